//! IdempotencyToken replay: the same token with the same request returns the first result;
//! the same token with a different request is a conflict. Tokens are kept for 8 hours.

use super::errors::conflict;
use super::records::{IDEMPOTENCY, IdempotencyBody};
use crate::shapes::contacts::Error;
use crate::storage::{Record, Tx};
use serde::Serialize;

pub const RETENTION_MS: i64 = 8 * 3600 * 1000;

pub fn fingerprint<T: Serialize>(input: &T) -> String {
    crate::domain::codes::hash_code("request", &serde_json::to_string(input).unwrap_or_default())
}

fn id(operation: &str, token: &str) -> String {
    format!("{operation}/{token}")
}

/// The earlier result for this token, if a live one exists.
pub async fn replay(
    tx: &mut dyn Tx,
    account: &str,
    operation: &str,
    token: Option<&str>,
    fingerprint: &str,
    now_ms: i64,
) -> Result<Option<String>, Error> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let Some(rec) = tx.get(IDEMPOTENCY, account, &id(operation, token)).await? else {
        return Ok(None);
    };
    if rec.created_ms + RETENTION_MS < now_ms {
        tx.delete(IDEMPOTENCY, account, &rec.id).await?;
        return Ok(None);
    }
    let body: IdempotencyBody = serde_json::from_str(&rec.body)?;
    if body.fingerprint != fingerprint {
        return Err(conflict(
            "IDEMPOTENCY_TOKEN",
            token,
            "IdempotencyToken was already used with different parameters",
        ));
    }
    Ok(Some(body.result))
}

pub async fn remember(
    tx: &mut dyn Tx,
    account: &str,
    operation: &str,
    token: Option<&str>,
    fingerprint: &str,
    result: &str,
    now_ms: i64,
) -> Result<(), Error> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(());
    };
    let body = IdempotencyBody {
        fingerprint: fingerprint.to_string(),
        result: result.to_string(),
    };
    tx.insert(&Record {
        kind: IDEMPOTENCY.into(),
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
