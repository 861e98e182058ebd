//! Operation behaviour for both services: typed input and request context in, typed output
//! or a modeled error out. Handlers never see HTTP.

pub mod contacts;
pub mod idempotency;
pub mod incidents;
pub mod paging;

/// Writes a changed body back to its record within the caller's transaction.
pub async fn save<T, E>(
    tx: &mut dyn crate::storage::Tx,
    rec: &mut crate::storage::Record,
    body: &T,
    now: i64,
) -> Result<(), E>
where
    T: serde::Serialize,
    E: From<crate::storage::StoreError> + From<serde_json::Error>,
{
    rec.body = serde_json::to_string(body)?;
    rec.updated_ms = now;
    tx.update(rec).await?;
    Ok(())
}
