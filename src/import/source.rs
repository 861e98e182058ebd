//! The AWS source's clients. Credentials follow the usual order of the AWS tools, for static
//! keys: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` from the environment
//! (unless a profile is named), then the profile `--source-profile` or `AWS_PROFILE` names (or
//! `default`) in the shared credentials file. SSO and role profiles are not resolved here:
//! export their keys first (`aws configure export-credentials --format env`).

use super::ImportError;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

pub struct Source {
    pub contacts: aws_sdk_ssmcontacts::Client,
    pub incidents: aws_sdk_ssmincidents::Client,
    pub region: String,
}

/// `[section]` → key → value of an AWS-style INI file.
fn ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    out
}

fn aws_file(env: &dyn Fn(&str) -> Option<String>, var: &str, name: &str) -> Option<String> {
    let path = env(var)
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws").join(name)))?;
    std::fs::read_to_string(path).ok()
}

struct Keys {
    id: String,
    secret: String,
    session: Option<String>,
}

fn keys(o: &SourceOptions, env: &dyn Fn(&str) -> Option<String>) -> Result<Keys, ImportError> {
    if o.profile.is_none()
        && let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
    {
        return Ok(Keys {
            id,
            secret,
            session: env("AWS_SESSION_TOKEN"),
        });
    }
    let profile = o
        .profile
        .clone()
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".into());
    let file = aws_file(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials").unwrap_or_default();
    let sections = ini(&file);
    let s = sections.get(&profile).ok_or_else(|| {
        ImportError::Source(format!(
            "no source credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give a profile of the shared credentials file (profile {profile} not found)"
        ))
    })?;
    match (s.get("aws_access_key_id"), s.get("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Ok(Keys {
            id: id.clone(),
            secret: secret.clone(),
            session: s.get("aws_session_token").cloned(),
        }),
        _ => Err(ImportError::Source(format!(
            "profile {profile} has no static keys; export them first (aws configure export-credentials --profile {profile} --format env)"
        ))),
    }
}

fn region(o: &SourceOptions, env: &dyn Fn(&str) -> Option<String>) -> String {
    if let Some(r) = o
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
    {
        return r;
    }
    let profile = o
        .profile
        .clone()
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".into());
    let section = if profile == "default" {
        profile
    } else {
        format!("profile {profile}")
    };
    aws_file(env, "AWS_CONFIG_FILE", "config")
        .and_then(|t| ini(&t).get(&section)?.get("region").cloned())
        .unwrap_or_else(|| "us-east-1".into())
}

pub fn connect(
    o: &SourceOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Source, ImportError> {
    let k = keys(o, env)?;
    let region = region(o, env);
    let (contacts, incidents) = crate::bot::sdk::clients(crate::bot::sdk::Endpoint {
        url: o.endpoint_url.as_deref(),
        region: &region,
        credentials: aws_sdk_ssmcontacts::config::Credentials::new(
            k.id,
            k.secret,
            k.session,
            None,
            "klaxon-import-source",
        ),
        clock: None,
    });
    Ok(Source {
        contacts,
        incidents,
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_profile_comes_from_the_shared_credentials_file() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id = A\naws_secret_access_key = B\n[old]\naws_access_key_id = C\naws_secret_access_key = D\naws_session_token = E\n",
        )
        .unwrap();
        let config = dir.path().join("config");
        std::fs::write(&config, "[profile old]\nregion = eu-west-2\n").unwrap();
        let (c, f) = (creds.display().to_string(), config.display().to_string());
        let env = move |k: &str| match k {
            "AWS_SHARED_CREDENTIALS_FILE" => Some(c.clone()),
            "AWS_CONFIG_FILE" => Some(f.clone()),
            "AWS_ACCESS_KEY_ID" => Some("ENVKEY".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("ENVSECRET".into()),
            _ => None,
        };
        let o = SourceOptions {
            profile: Some("old".into()),
            ..Default::default()
        };
        let k = keys(&o, &env).unwrap();
        assert_eq!((k.id.as_str(), k.session.as_deref()), ("C", Some("E")));
        assert_eq!(region(&o, &env), "eu-west-2");
        let k = keys(&SourceOptions::default(), &env).unwrap();
        assert_eq!(k.id, "ENVKEY");
    }
}
