//! The durable key → incident index, shared by every node through the store. A key's head
//! names its current generation and incident; each generation is claimed once, by inserting
//! its claim record (the store's primary key decides a race), and the claim keeps the exact
//! StartIncident input so that every node racing on it asks for the same incident with the
//! same client token.

use crate::storage::{Record, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest;

pub const HEAD: &str = "alert-key";
pub const CLAIM: &str = "alert-claim";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Head {
    pub generation: i64,
    pub incident_arn: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claim {
    input: Value,
}

/// Keys are hashed: a sender's key may be long, and the index needs no more than its identity.
pub fn key_id(integration: &str, key: &str) -> String {
    format!(
        "{integration}/{}",
        hex::encode(&sha2::Sha256::digest(key.as_bytes())[..16])
    )
}

fn claim_id(id: &str, generation: i64) -> String {
    format!("{id}#{generation}")
}

/// StartIncident's client token for one generation of a key.
pub fn client_token(id: &str, generation: i64) -> String {
    let d = sha2::Sha256::digest(claim_id(id, generation).as_bytes());
    format!("alert-{}", hex::encode(&d[..16]))
}

pub async fn head(store: &dyn Store, account: &str, id: &str) -> Result<Option<Head>, StoreError> {
    let mut r = store.read().await?;
    let Some(rec) = r.get(HEAD, account, id).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_str(&rec.body).ok())
}

/// The input this generation was claimed with, if it was.
pub async fn claimed(
    store: &dyn Store,
    account: &str,
    id: &str,
    generation: i64,
) -> Result<Option<Value>, StoreError> {
    let mut r = store.read().await?;
    let Some(rec) = r.get(CLAIM, account, &claim_id(id, generation)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_str::<Claim>(&rec.body)
        .ok()
        .map(|c| c.input))
}

/// Claims the generation with `input`, or returns the input another node claimed it with.
pub async fn claim(
    store: &dyn Store,
    account: &str,
    id: &str,
    generation: i64,
    input: &Value,
    now: i64,
) -> Result<Value, StoreError> {
    let body = serde_json::to_string(&Claim {
        input: input.clone(),
    })
    .unwrap_or_default();
    let rec = Record {
        kind: CLAIM.into(),
        account: account.into(),
        id: claim_id(id, generation),
        parent: Some(id.to_string()),
        sort: format!("{generation:012}"),
        body,
        created_ms: now,
        updated_ms: now,
    };
    let mut tx = store.begin().await?;
    match tx.insert(&rec).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(input.clone())
        }
        Err(StoreError::Conflict) => {
            drop(tx);
            Ok(claimed(store, account, id, generation)
                .await?
                .unwrap_or_else(|| input.clone()))
        }
        Err(e) => Err(e),
    }
}

/// Points the key at the generation's incident, unless a later generation is there already;
/// the claims of earlier generations are no longer needed.
pub async fn advance(
    store: &dyn Store,
    account: &str,
    id: &str,
    generation: i64,
    incident_arn: &str,
    now: i64,
) -> Result<(), StoreError> {
    let body = serde_json::to_string(&Head {
        generation,
        incident_arn: incident_arn.to_string(),
    })
    .unwrap_or_default();
    let rec = Record {
        kind: HEAD.into(),
        account: account.into(),
        id: id.to_string(),
        parent: None,
        sort: id.to_string(),
        body,
        created_ms: now,
        updated_ms: now,
    };
    let mut tx = store.begin().await?;
    match tx.get(HEAD, account, id).await? {
        Some(cur) => {
            let cur: Option<Head> = serde_json::from_str(&cur.body).ok();
            if cur.as_ref().is_some_and(|c| c.generation > generation)
                || cur
                    .as_ref()
                    .is_some_and(|c| c.generation == generation && c.incident_arn == incident_arn)
            {
                return Ok(());
            }
            tx.update(&rec).await?;
        }
        None => match tx.insert(&rec).await {
            Ok(()) => {}
            // Another node indexed it at the same moment, with the same generation's incident.
            Err(StoreError::Conflict) => return Ok(()),
            Err(e) => return Err(e),
        },
    }
    if generation > 1 {
        tx.delete(CLAIM, account, &claim_id(id, generation - 1))
            .await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_tokens_are_stable_and_distinct() {
        let a = key_id("prom", "k1");
        assert_eq!(a, key_id("prom", "k1"));
        assert_ne!(a, key_id("prom", "k2"));
        assert_ne!(a, key_id("graf", "k1"));
        assert_eq!(client_token(&a, 1), client_token(&a, 1));
        assert_ne!(client_token(&a, 1), client_token(&a, 2));
        assert!(client_token(&a, 1).len() <= 64);
    }
}
