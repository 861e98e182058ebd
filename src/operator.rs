//! Operator actions that are not part of the AWS API: today one, activating a contact channel
//! without a code, which `klaxon import` needs so that a channel proven at the source pages at
//! once. The route answers only to the operator token kept in the data directory (mode 0600):
//! whoever can read it can read the database and the generated credentials anyway, so it grants
//! nothing an API credential holder does not already lack. The token is never logged.

use crate::config::Secret;
use crate::domain::arn::Arn;
use crate::handlers::contacts::activation::activate_by_operator;
use crate::shapes::Context;
use crate::wire::Api;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response, StatusCode};
use axum::routing::post;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub const ACTIVATE_PATH: &str = "/_klaxon/operator/activate-channel";
pub const TOKEN_HEADER: &str = "x-klaxon-operator-token";

pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("operator.token")
}

/// Reads the data directory's operator token, creating it (mode 0600) when missing.
pub fn token(data_dir: &Path) -> std::io::Result<Secret> {
    let path = token_path(data_dir);
    loop {
        match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => {
                // Whoever can read the file can activate channels: it stays the owner's alone.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(&path)?.permissions().mode();
                    if mode & 0o077 != 0 {
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
                    }
                }
                return Ok(Secret::new(t.trim()));
            }
            Ok(_) => std::fs::remove_file(&path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let bytes: [u8; 32] = rand::rng().random();
        let t = hex::encode(bytes);
        std::fs::create_dir_all(data_dir)?;
        // Written whole under a name of its own, then linked into place: the token file never
        // exists empty, so a server and an import starting together agree on one token (a
        // reader that found the file created but not yet written used to replace it).
        let tmp = data_dir.join(format!(".operator.token.{}", hex::encode(&bytes[..8])));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        {
            use std::io::Write;
            let mut f = opts.open(&tmp)?;
            f.write_all(t.as_bytes())?;
            f.sync_all()?;
        }
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => return Ok(Secret::new(t)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[derive(Clone)]
struct Hooks {
    api: Arc<Api>,
    token: Secret,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivateRequest {
    contact_channel_arn: String,
    actor: Option<String>,
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r
}

async fn activate(State(h): State<Hooks>, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let given = headers
        .get(TOKEN_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    // Digests, so that the comparison takes as long whatever the given token's length.
    let digest = |b: &[u8]| Sha256::digest(b);
    if !bool::from(
        digest(given)
            .as_slice()
            .ct_eq(digest(h.token.expose().as_bytes()).as_slice()),
    ) {
        return reply(
            StatusCode::FORBIDDEN,
            serde_json::json!({"message": "not the operator token"}),
        );
    }
    let Ok(req) = serde_json::from_slice::<ActivateRequest>(&body) else {
        return reply(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"message": "expected {\"contactChannelArn\": …}"}),
        );
    };
    let Some(arn) = Arn::parse(&req.contact_channel_arn) else {
        return reply(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"message": "contactChannelArn is not an ARN"}),
        );
    };
    let ctx = Context {
        account_id: arn.account.clone(),
        region: arn.region.clone(),
        access_key_id: "operator".into(),
        request_id: crate::wire::request_id(),
    };
    let actor = req.actor.as_deref().unwrap_or("operator");
    match activate_by_operator(&h.api.contacts, &ctx, &req.contact_channel_arn, actor).await {
        Ok(was) => reply(
            StatusCode::OK,
            serde_json::json!({"activated": true, "alreadyActivated": was}),
        ),
        Err(e) => {
            use crate::shapes::contacts::Error;
            let status = match e {
                Error::ResourceNotFoundException(_) => StatusCode::NOT_FOUND,
                Error::InternalServerException(_) | Error::NotImplemented(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                _ => StatusCode::BAD_REQUEST,
            };
            reply(status, serde_json::json!({"message": e.to_string()}))
        }
    }
}

pub fn routes(api: Arc<Api>, token: Secret) -> Router {
    Router::new()
        .route(ACTIVATE_PATH, post(activate))
        .with_state(Hooks { api, token })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_token_file_others_can_read_is_made_the_owners_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = token_path(dir.path());
        std::fs::write(&path, "operator-secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(token(dir.path()).unwrap().expose(), "operator-secret");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_missing_or_empty_token_file_gets_a_new_token_that_stays() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(token_path(dir.path()), "").unwrap();
        let first = token(dir.path()).unwrap();
        assert_eq!(first.expose().len(), 64);
        assert_eq!(token(dir.path()).unwrap().expose(), first.expose());
    }
}
