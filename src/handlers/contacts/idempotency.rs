//! IdempotencyToken replay for contacts operations, on the shared client-token store.

use super::errors::conflict;
use crate::handlers::idempotency::Guard;
use crate::shapes::Context;
use crate::shapes::contacts::Error;
use crate::storage::Tx;

/// The IdempotencyToken of one mutating call: an earlier call with the same token and input is
/// answered with its result; the same token with other input is a ConflictException.
pub struct IdempotencyToken(Guard);

impl IdempotencyToken {
    pub fn new<T: serde::Serialize>(
        ctx: &Context,
        operation: &'static str,
        token: Option<&str>,
        input: &T,
        now: i64,
    ) -> Self {
        IdempotencyToken(Guard::new(&ctx.account_id, operation, token, input, now))
    }

    pub async fn replayed(&self, tx: &mut dyn Tx) -> Result<Option<String>, Error> {
        self.0
            .replayed(tx, |g| {
                conflict(
                    "IDEMPOTENCY_TOKEN",
                    g.token(),
                    "IdempotencyToken was already used with different parameters",
                )
            })
            .await
    }

    pub async fn remember(&self, tx: &mut dyn Tx, result: &str) -> Result<(), Error> {
        self.0.remember(tx, result).await
    }
}
