//! Client-token replay for both services: the same token with the same request returns the
//! first result; the same token with a different request is reported as a mismatch, which each
//! service turns into its ConflictException. Tokens are scoped per operation and account and
//! kept for 8 hours, the window AWS documents.

use crate::storage::{Record, StoreError, Tx};
use serde::{Deserialize, Serialize};

pub const KIND: &str = "idempotency";
pub const RETENTION_MS: i64 = 8 * 3600 * 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Body {
    fingerprint: String,
    result: String,
}

enum Replay {
    Fresh,
    Same(String),
    Mismatch,
}

fn fingerprint<T: Serialize>(input: &T) -> String {
    crate::domain::codes::hash_code("request", &serde_json::to_string(input).unwrap_or_default())
}

fn id(operation: &str, token: &str) -> String {
    format!("{operation}/{token}")
}

fn live(token: Option<&str>) -> Option<&str> {
    token.filter(|t| !t.is_empty())
}

/// What an earlier call with this token left, if it is still within the retention window.
async fn lookup<E: From<StoreError> + From<serde_json::Error>>(
    tx: &mut dyn Tx,
    account: &str,
    operation: &str,
    token: Option<&str>,
    fingerprint: &str,
    now_ms: i64,
) -> Result<Replay, E> {
    let Some(token) = live(token) else {
        return Ok(Replay::Fresh);
    };
    let Some(rec) = tx.get(KIND, account, &id(operation, token)).await? else {
        return Ok(Replay::Fresh);
    };
    if rec.created_ms + RETENTION_MS < now_ms {
        tx.delete(KIND, account, &rec.id).await?;
        return Ok(Replay::Fresh);
    }
    let body: Body = serde_json::from_str(&rec.body)?;
    Ok(if body.fingerprint == fingerprint {
        Replay::Same(body.result)
    } else {
        Replay::Mismatch
    })
}

async fn remember<E: From<StoreError> + From<serde_json::Error>>(
    tx: &mut dyn Tx,
    account: &str,
    operation: &str,
    token: Option<&str>,
    fingerprint: &str,
    result: &str,
    now_ms: i64,
) -> Result<(), E> {
    let Some(token) = live(token) else {
        return Ok(());
    };
    let body = Body {
        fingerprint: fingerprint.to_string(),
        result: result.to_string(),
    };
    tx.insert(&Record {
        kind: KIND.into(),
        account: account.into(),
        id: id(operation, token),
        parent: None,
        sort: format!("{now_ms:016}"),
        body: serde_json::to_string(&body)?,
        created_ms: now_ms,
        updated_ms: now_ms,
    })
    .await?;
    Ok(())
}

/// The token of one mutating call, with what is needed to replay or remember it; each service
/// wraps it with its own ConflictException for a token reused with other input.
pub struct Guard {
    operation: &'static str,
    token: Option<String>,
    fingerprint: String,
    account: String,
    now: i64,
}

impl Guard {
    /// `input` is the request without its token, so a replay is recognised by what it asks.
    pub fn new<T: Serialize>(
        account: &str,
        operation: &'static str,
        token: Option<&str>,
        input: &T,
        now: i64,
    ) -> Guard {
        Guard {
            operation,
            token: token.map(str::to_string),
            fingerprint: fingerprint(input),
            account: account.to_string(),
            now,
        }
    }

    pub fn token(&self) -> &str {
        self.token.as_deref().unwrap_or_default()
    }

    /// The result the first call with this token returned, if a live one exists; `mismatch`
    /// is the error for the same token with other input.
    pub async fn replayed<E: From<StoreError> + From<serde_json::Error>>(
        &self,
        tx: &mut dyn Tx,
        mismatch: impl FnOnce(&Guard) -> E,
    ) -> Result<Option<String>, E> {
        let (op, token) = (self.operation, self.token.as_deref());
        match lookup::<E>(tx, &self.account, op, token, &self.fingerprint, self.now).await? {
            Replay::Fresh => Ok(None),
            Replay::Same(result) => Ok(Some(result)),
            Replay::Mismatch => Err(mismatch(self)),
        }
    }

    pub async fn remember<E: From<StoreError> + From<serde_json::Error>>(
        &self,
        tx: &mut dyn Tx,
        result: &str,
    ) -> Result<(), E> {
        let (op, token) = (self.operation, self.token.as_deref());
        remember::<E>(
            tx,
            &self.account,
            op,
            token,
            &self.fingerprint,
            result,
            self.now,
        )
        .await
    }
}
