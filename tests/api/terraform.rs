//! The hashicorp/aws provider, run by the real Terraform, against a real `klaxon serve` on
//! SQLite: tests/terraform/main.tf holds every aws_ssmcontacts_* and aws_ssmincidents_* resource
//! and data source. apply → no changes → change variables → apply → no changes → import every
//! resource into an empty state → no changes → destroy → nothing left (checked through the SDK).
//!
//! The provider comes from a filesystem mirror (`/opt/tf-plugins`, or `KLAXON_TF_PLUGINS`);
//! nothing is downloaded. Without terraform or the mirror the test prints SKIPPED, and under
//! CI=true it fails instead: `.ci/run` checks both first.

use crate::helpers::{KEY, REGION, SECRET};
use crate::process::{free_addr, serve};
use aws_sdk_ssmcontacts::config::{BehaviorVersion, Credentials, Region};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

const CONFIG: &str = include_str!("../terraform/main.tf");

struct Terraform {
    bin: PathBuf,
    rc: PathBuf,
    endpoint: String,
    vars: Vec<(&'static str, &'static str)>,
}

/// terraform and the provider mirror, or None (SKIPPED) when either is missing outside CI.
fn find_terraform() -> Option<(PathBuf, PathBuf)> {
    let bin = std::env::var_os("KLAXON_TERRAFORM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("terraform"));
    let mirror = std::env::var_os("KLAXON_TF_PLUGINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/tf-plugins"));
    let runs = Command::new(&bin)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let provider = mirror.join("registry.terraform.io/hashicorp/aws");
    let missing = match (runs, provider.is_dir()) {
        (true, true) => return Some((bin, mirror)),
        (false, _) => format!("terraform ({}) does not run", bin.display()),
        (true, false) => format!("no hashicorp/aws provider under {}", mirror.display()),
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {missing}"
    );
    eprintln!("SKIPPED: {missing}; the Terraform test did not run");
    None
}

impl Terraform {
    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.current_dir(dir)
            .args(args)
            .env("TF_CLI_CONFIG_FILE", &self.rc)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                dir.join("no-aws-credentials"),
            )
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
        c
    }

    fn var_args(&self) -> Vec<String> {
        let mut v = vec![
            "-no-color".to_string(),
            "-input=false".to_string(),
            format!("-var=endpoint={}", self.endpoint),
        ];
        v.extend(self.vars.iter().map(|(k, val)| format!("-var={k}={val}")));
        v
    }

    /// Runs terraform (off the async workers) and returns its output with the seconds it took.
    async fn run(&self, dir: &Path, args: &[&str], with_vars: bool) -> (Output, f64) {
        // Options go between the subcommand and its positional arguments (import ADDR ID).
        let mut all = vec![args[0].to_string()];
        if with_vars {
            all.extend(self.var_args());
        }
        all.extend(args[1..].iter().map(|s| s.to_string()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut cmd = self.command(dir, &refs);
        let started = Instant::now();
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("terraform runs");
        (out, started.elapsed().as_secs_f64())
    }

    async fn ok(&self, dir: &Path, args: &[&str], with_vars: bool) -> (String, f64) {
        let (out, secs) = self.run(dir, args, with_vars).await;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "terraform {} failed:\n{stdout}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        (stdout, secs)
    }

    /// `plan -detailed-exitcode` must say "no changes" (exit 0); 2 means drift, shown in full.
    async fn no_changes(&self, dir: &Path, when: &str) -> f64 {
        let (out, secs) = self.run(dir, &["plan", "-detailed-exitcode"], true).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "terraform plan {when} is not clean:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        secs
    }
}

fn workdir(root: &Path, name: &str) -> PathBuf {
    let d = root.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("main.tf"), CONFIG).unwrap();
    d
}

fn sdk_config(addr: &str) -> (aws_sdk_ssmcontacts::Client, aws_sdk_ssmincidents::Client) {
    let creds = Credentials::new(KEY, SECRET, None, None, "test");
    let c = aws_sdk_ssmcontacts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(creds.clone())
        .endpoint_url(format!("http://{addr}"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let i = aws_sdk_ssmincidents::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_sdk_ssmincidents::config::Region::new(REGION))
        .credentials_provider(creds)
        .endpoint_url(format!("http://{addr}"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    (
        aws_sdk_ssmcontacts::Client::from_conf(c),
        aws_sdk_ssmincidents::Client::from_conf(i),
    )
}

/// The resource addresses of main.tf with the import id each takes, read from the `ids` output.
fn import_ids(ids: &serde_json::Value) -> Vec<(String, String)> {
    let s = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    let mut out = vec![(
        "aws_ssmincidents_replication_set.main".to_string(),
        s(&ids["replication_set"]),
    )];
    let contacts = [
        ("akua", "akua"),
        ("jdoe", "jdoe"),
        ("sam", "sam"),
        ("escalation", "escalation"),
    ];
    for (name, key) in contacts {
        out.push((
            format!("aws_ssmcontacts_contact.{name}"),
            s(&ids["contacts"][key]),
        ));
    }
    for name in ["akua_email", "akua_sms"] {
        out.push((
            format!("aws_ssmcontacts_contact_channel.{name}"),
            s(&ids["channels"][name]),
        ));
    }
    // A plan is imported by its contact's ARN.
    out.push((
        "aws_ssmcontacts_plan.akua".to_string(),
        s(&ids["contacts"]["akua"]),
    ));
    out.push((
        "aws_ssmcontacts_plan.escalation".to_string(),
        s(&ids["contacts"]["escalation"]),
    ));
    for name in ["weekly", "daily", "monthly"] {
        out.push((
            format!("aws_ssmcontacts_rotation.{name}"),
            s(&ids["rotations"][name]),
        ));
    }
    for name in ["checkout", "minimal"] {
        out.push((
            format!("aws_ssmincidents_response_plan.{name}"),
            s(&ids["response_plans"][name]),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_applies_converges_imports_and_destroys_every_resource() {
    let Some((bin, mirror)) = find_terraform() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let addr = free_addr();
    let _server = serve(&data, &addr).await;
    let rc = root.path().join("terraform.rc");
    std::fs::write(
        &rc,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n    include = [\"registry.terraform.io/hashicorp/aws\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/hashicorp/aws\"]\n  }}\n}}\n",
            mirror.display()
        ),
    )
    .unwrap();
    let mut tf = Terraform {
        bin,
        rc,
        endpoint: format!("http://{addr}"),
        vars: vec![],
    };
    let (contacts, incidents) = sdk_config(&addr);
    let mut timings = Vec::new();

    let first = workdir(root.path(), "first");
    let (_, secs) = tf
        .ok(&first, &["init", "-no-color", "-input=false"], false)
        .await;
    timings.push(("init", secs));
    let (_, secs) = tf.ok(&first, &["apply", "-auto-approve"], true).await;
    timings.push(("apply (create 14 resources)", secs));
    timings.push((
        "plan after apply",
        tf.no_changes(&first, "after the first apply").await,
    ));

    let (out, _) = tf.ok(&first, &["output", "-json"], false).await;
    let outputs: serde_json::Value = serde_json::from_str(&out).unwrap();
    let data_out = &outputs["data"]["value"];
    assert_eq!(data_out["contact_alias"], "akuam");
    assert_eq!(data_out["channel_address"], "akua@example.com");
    assert_eq!(data_out["plan_stages"], 2);
    assert_eq!(data_out["rotation_tz"], "America/New_York");
    assert_eq!(data_out["replication_status"], "ACTIVE");
    assert_eq!(data_out["plan_title"], "Checkout is down");
    let ids = outputs["ids"]["value"].clone();

    // What Terraform created is what the API shows.
    let listed = contacts.list_contacts().send().await.unwrap();
    assert_eq!(listed.contacts().len(), 4);
    let rotations = contacts.list_rotations().send().await.unwrap();
    assert_eq!(rotations.rotations().len(), 3);
    let daily = contacts
        .get_rotation()
        .rotation_id(ids["rotations"]["daily"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    // StartTime is a required output member: the SDK reads an absent one as the epoch.
    assert_eq!(
        daily.start_time.secs(),
        0,
        "a rotation made without StartTime reads back without one"
    );
    let sets = incidents.list_replication_sets().send().await.unwrap();
    assert_eq!(sets.replication_set_arns().len(), 1);

    // A second pipeline run with a display name, a stage duration, a rotation member and a
    // response plan title changed.
    tf.vars = vec![
        ("display_name", "Akua M. Mansa"),
        ("stage_minutes", "7"),
        ("rotation_second_member", "sam"),
        ("incident_title", "Checkout is failing"),
    ];
    let (_, secs) = tf.ok(&first, &["apply", "-auto-approve"], true).await;
    timings.push(("apply (4 changes)", secs));
    timings.push((
        "plan after change",
        tf.no_changes(&first, "after the change").await,
    ));
    let akua = contacts
        .get_contact()
        .contact_id(ids["contacts"]["akua"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(akua.display_name(), Some("Akua M. Mansa"));
    assert_eq!(akua.plan().unwrap().stages()[0].duration_in_minutes(), 7);
    let weekly = contacts
        .get_rotation()
        .rotation_id(ids["rotations"]["weekly"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        weekly.contact_ids()[1],
        ids["contacts"]["sam"].as_str().unwrap()
    );
    let plan = incidents
        .get_response_plan()
        .arn(ids["response_plans"]["checkout"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        plan.incident_template().unwrap().title(),
        "Checkout is failing"
    );

    // Every resource imported into an empty state reads back as what the configuration says.
    let second = workdir(root.path(), "second");
    tf.ok(&second, &["init", "-no-color", "-input=false"], false)
        .await;
    let started = Instant::now();
    let to_import = import_ids(&ids);
    for (address, id) in &to_import {
        tf.ok(&second, &["import", address.as_str(), id.as_str()], true)
            .await;
    }
    timings.push(("import (14, one by one)", started.elapsed().as_secs_f64()));
    let (state, _) = tf.ok(&second, &["state", "list"], false).await;
    let managed = state.lines().filter(|l| !l.starts_with("data.")).count();
    assert_eq!(managed, to_import.len());
    timings.push((
        "plan after import",
        tf.no_changes(&second, "after import").await,
    ));

    // Destroy from the imported state: it knows every resource.
    let (_, secs) = tf.ok(&second, &["destroy", "-auto-approve"], true).await;
    timings.push(("destroy", secs));
    assert!(
        contacts
            .list_contacts()
            .send()
            .await
            .unwrap()
            .contacts()
            .is_empty()
    );
    assert!(
        contacts
            .list_rotations()
            .send()
            .await
            .unwrap()
            .rotations()
            .is_empty()
    );
    assert!(
        incidents
            .list_response_plans()
            .send()
            .await
            .unwrap()
            .response_plan_summaries()
            .is_empty()
    );
    assert!(
        incidents
            .list_replication_sets()
            .send()
            .await
            .unwrap()
            .replication_set_arns()
            .is_empty()
    );
    let channels = contacts
        .list_contact_channels()
        .contact_id(ids["contacts"]["akua"].as_str().unwrap())
        .send()
        .await;
    assert!(
        channels.is_err() || channels.unwrap().contact_channels().is_empty(),
        "no contact channel outlives its contact"
    );

    for (step, secs) in timings {
        eprintln!("terraform {step}: {secs:.1} s");
    }
}
