use crate::helpers::*;
use std::process::Command;

fn aws_cli() -> Option<()> {
    match Command::new("aws").arg("--version").output() {
        Ok(o) if o.status.success() => Some(()),
        _ => {
            // .ci/run installs the CLI: in CI a missing one is a broken install step, not a skip.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but the aws CLI is not installed"
            );
            eprintln!("SKIPPED: the aws CLI is not installed; the CLI round trip did not run");
            None
        }
    }
}

fn aws(app: &TestApp, args: &[&str]) -> (bool, serde_json::Value, String) {
    let out = Command::new("aws")
        .args(args)
        .args(["--endpoint-url", &app.url(), "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("aws runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_creates_activates_and_reads_a_contact() {
    if aws_cli().is_none() {
        return;
    }
    let app = spawn().await;
    let (ok, out, err) = tokio::task::block_in_place(|| {
        aws(
            &app,
            &[
                "ssm-contacts",
                "create-contact",
                "--alias",
                "cli-user",
                "--display-name",
                "Cli User",
                "--type",
                "PERSONAL",
                "--plan",
                "{\"Stages\":[]}",
            ],
        )
    });
    assert!(ok, "{err}");
    let arn = out["ContactArn"].as_str().unwrap().to_string();
    assert_eq!(arn, contact_arn(ACCOUNT, "cli-user"));
    let (ok, out, err) = tokio::task::block_in_place(|| {
        aws(
            &app,
            &[
                "ssm-contacts",
                "create-contact-channel",
                "--contact-id",
                &arn,
                "--name",
                "mail",
                "--type",
                "EMAIL",
                "--delivery-address",
                "SimpleAddress=cli@example.com",
            ],
        )
    });
    assert!(ok, "{err}");
    let ch = out["ContactChannelArn"].as_str().unwrap().to_string();
    let code_sent = app.last_code(&ch).await;
    let (ok, _, err) = tokio::task::block_in_place(|| {
        aws(
            &app,
            &[
                "ssm-contacts",
                "activate-contact-channel",
                "--contact-channel-id",
                &ch,
                "--activation-code",
                &code_sent,
            ],
        )
    });
    assert!(ok, "{err}");
    let (ok, out, err) = tokio::task::block_in_place(|| {
        aws(
            &app,
            &[
                "ssm-contacts",
                "get-contact-channel",
                "--contact-channel-id",
                &ch,
            ],
        )
    });
    assert!(ok, "{err}");
    assert_eq!(out["ActivationStatus"], "ACTIVATED");
    let (ok, out, _) =
        tokio::task::block_in_place(|| aws(&app, &["ssm-contacts", "list-contacts"]));
    assert!(ok);
    assert_eq!(out["Contacts"][0]["Alias"], "cli-user");
    let (ok, _, err) = tokio::task::block_in_place(|| {
        aws(
            &app,
            &[
                "ssm-contacts",
                "get-contact",
                "--contact-id",
                &contact_arn(ACCOUNT, "ghost"),
            ],
        )
    });
    assert!(!ok);
    assert!(err.contains("ResourceNotFoundException"), "{err}");

    // The README's engagement walk: plan, engage, read the page, acknowledge it.
    let plan = format!(
        "{{\"Stages\":[{{\"DurationInMinutes\":5,\"Targets\":[{{\"ChannelTargetInfo\":{{\"ContactChannelId\":\"{ch}\",\"RetryIntervalInMinutes\":1}}}}]}}]}}"
    );
    let cli = |args: Vec<&str>| {
        let (ok, out, err) = tokio::task::block_in_place(|| aws(&app, &args));
        assert!(ok, "{args:?}: {err}");
        out
    };
    cli(vec![
        "ssm-contacts",
        "update-contact",
        "--contact-id",
        &arn,
        "--plan",
        &plan,
    ]);
    let out = cli(vec![
        "ssm-contacts",
        "start-engagement",
        "--contact-id",
        &arn,
        "--sender",
        "oncall-cli",
        "--subject",
        "Checkout is down",
        "--content",
        "Error rate 40%",
    ]);
    let eng = out["EngagementArn"].as_str().unwrap().to_string();
    app.tick().await;
    let out = cli(vec![
        "ssm-contacts",
        "list-pages-by-engagement",
        "--engagement-id",
        &eng,
    ]);
    let page = out["Pages"][0]["PageArn"].as_str().unwrap().to_string();
    assert!(out["Pages"][0]["SentTime"].is_number());
    let sent = app.sent.sent();
    let msg = sent
        .iter()
        .rev()
        .find(|m| m.page_arn.as_deref() == Some(page.as_str()))
        .unwrap();
    let wrong = if msg.code == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (ok, _, err) = tokio::task::block_in_place(|| {
        aws(
            &app,
            &[
                "ssm-contacts",
                "accept-page",
                "--page-id",
                &page,
                "--accept-type",
                "READ",
                "--accept-code",
                wrong,
            ],
        )
    });
    assert!(!ok && err.contains("ValidationException"), "{err}");
    cli(vec![
        "ssm-contacts",
        "accept-page",
        "--page-id",
        &page,
        "--accept-type",
        "READ",
        "--accept-code",
        &msg.code,
    ]);
    let out = cli(vec![
        "ssm-contacts",
        "list-page-receipts",
        "--page-id",
        &page,
    ]);
    let types: Vec<&str> = out["Receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ReceiptType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["SENT", "READ"]);
    let out = cli(vec![
        "ssm-contacts",
        "describe-engagement",
        "--engagement-id",
        &eng,
    ]);
    assert_eq!(out["Sender"], "oncall-cli");
}
