//! Access keys: each maps to a secret and the account (tenant) it acts for. Keys come from the
//! configuration; with none configured, one is generated on first start and kept in the data
//! directory, readable only by its owner.

use crate::config::{Config, Secret};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("cannot read the secret file for key {key}: {source}")]
    SecretFile { key: String, source: std::io::Error },
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("access key {0} is configured twice")]
    Duplicate(String),
}

#[derive(Debug, Clone)]
pub struct Key {
    pub secret: Secret,
    pub account_id: String,
}

#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<String, Key>,
    /// The first key given; the chat bot acts with it unless `[bot]` names its own.
    first: Option<String>,
}

impl KeyRing {
    pub fn insert(&mut self, access_key_id: &str, key: Key) -> Result<(), CredentialError> {
        if self.keys.insert(access_key_id.to_string(), key).is_some() {
            return Err(CredentialError::Duplicate(access_key_id.to_string()));
        }
        self.first.get_or_insert_with(|| access_key_id.to_string());
        Ok(())
    }

    pub fn first(&self) -> Option<(String, String)> {
        let id = self.first.clone()?;
        let key = self.keys.get(&id)?;
        Some((id, key.secret.expose().to_string()))
    }

    pub fn get(&self, access_key_id: &str) -> Option<&Key> {
        self.keys.get(access_key_id)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The generated credentials file, in a form `aws configure` users recognise.
#[derive(Serialize, Deserialize)]
struct GeneratedFile {
    access_key_id: String,
    secret_access_key: String,
    account_id: String,
}

pub fn generated_path(data_dir: &Path) -> PathBuf {
    data_dir.join("credentials.toml")
}

/// Builds the key ring from the configuration, or from the generated file (creating it when
/// missing). Returns the ring and, when the generated file is in use, its path.
pub fn load(config: &Config) -> Result<(KeyRing, Option<PathBuf>), CredentialError> {
    let mut ring = KeyRing::default();
    for c in &config.credentials {
        let secret = match (&c.secret_access_key, &c.secret_access_key_file) {
            (Some(s), _) => s.clone(),
            (None, Some(f)) => Secret::new(
                std::fs::read_to_string(f)
                    .map_err(|source| CredentialError::SecretFile {
                        key: c.access_key_id.clone(),
                        source,
                    })?
                    .trim()
                    .to_string(),
            ),
            (None, None) => {
                return Err(CredentialError::File {
                    path: "configuration".into(),
                    message: format!("key {} has no secret", c.access_key_id),
                });
            }
        };
        ring.insert(
            &c.access_key_id,
            Key {
                secret,
                account_id: c.account_id.clone(),
            },
        )?;
    }
    if !ring.is_empty() {
        return Ok((ring, None));
    }
    let path = generated_path(&config.data_dir);
    let file = if path.exists() {
        read_generated(&path)?
    } else {
        write_generated(&path)?
    };
    ring.insert(
        &file.access_key_id,
        Key {
            secret: Secret::new(file.secret_access_key),
            account_id: file.account_id,
        },
    )?;
    Ok((ring, Some(path)))
}

fn read_generated(path: &Path) -> Result<GeneratedFile, CredentialError> {
    let err = |message: String| CredentialError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    toml::from_str(&text).map_err(|e| err(e.to_string()))
}

fn write_generated(path: &Path) -> Result<GeneratedFile, CredentialError> {
    let err = |message: String| CredentialError::File {
        path: path.display().to_string(),
        message,
    };
    let mut rng = rand::rng();
    let upper: String = (0..16)
        .map(|_| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[rng.random_range(0..32)]))
        .collect();
    let secret: String = (&mut rng)
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let account: String = format!(
        "{}{:011}",
        rng.random_range(1..10),
        rng.random_range(0..100_000_000_000u64)
    );
    let file = GeneratedFile {
        access_key_id: format!("KLXN{upper}"),
        secret_access_key: secret,
        account_id: account,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let text = format!(
        "# Generated by klaxon on first start. Use these with aws-cli / SDKs:\n#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; the account id appears in every ARN.\n{}",
        toml::to_string(&file).map_err(|e| err(e.to_string()))?
    );
    write_private(path, &text).map_err(|e| err(e.to_string()))?;
    Ok(file)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_with_private_mode_then_reuses() {
        let dir = std::env::temp_dir().join(format!(
            "klaxon-cred-{}-{}",
            std::process::id(),
            crate::domain::arn::new_id()
        ));
        let config = Config {
            data_dir: dir.clone(),
            ..Config::default()
        };
        let (ring, path) = load(&config).unwrap();
        let path = path.expect("generated file in use");
        assert_eq!(ring.len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let (again, _) = load(&config).unwrap();
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("access_key_id = "))
            .unwrap()
            .trim_matches('"');
        assert_eq!(again.get(key).unwrap().account_id.len(), 12);
        std::fs::remove_dir_all(dir).ok();
    }
}
