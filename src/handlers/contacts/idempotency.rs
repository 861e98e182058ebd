//! IdempotencyToken replay for contacts operations, on the shared client-token store.

use super::errors::conflict;
use crate::handlers::idempotency::{self as shared, Replay};
use crate::shapes::contacts::Error;
use crate::storage::Tx;

pub use shared::fingerprint;

/// The earlier result for this token, if a live one exists.
pub async fn replay(
    tx: &mut dyn Tx,
    account: &str,
    operation: &str,
    token: Option<&str>,
    fingerprint: &str,
    now_ms: i64,
) -> Result<Option<String>, Error> {
    match shared::lookup::<Error>(tx, account, operation, token, fingerprint, now_ms).await? {
        Replay::Fresh => Ok(None),
        Replay::Same(result) => Ok(Some(result)),
        Replay::Mismatch => Err(conflict(
            "IDEMPOTENCY_TOKEN",
            token.unwrap_or_default(),
            "IdempotencyToken was already used with different parameters",
        )),
    }
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
    shared::remember(tx, account, operation, token, fingerprint, result, now_ms).await
}
