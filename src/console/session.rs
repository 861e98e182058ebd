//! Console sessions: a random token in the `klaxon_session` cookie, and server-side a record
//! under the token's SHA-256 (so the database never holds a usable token) naming the access
//! key it was opened with, its CSRF token and when it ends. Signing out deletes the record.

use crate::storage::{ListQuery, Record, Store, StoreError};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const SESSION: &str = "console-session";
/// Sessions are found by token before their account is known, so they share one namespace.
const SESSIONS: &str = "console";
/// Expired sessions swept per sign-in: enough to keep up, bounded so a sign-in stays quick.
const SWEEP: i64 = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub access_key_id: String,
    pub account_id: String,
    pub csrf: String,
    pub expires_ms: i64,
    #[serde(skip)]
    pub id: String,
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn id_of(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn expiry_key(ms: i64) -> String {
    format!("{:020}", ms.max(0))
}

/// Opens a session; returns the token for the cookie.
pub async fn open(
    store: &dyn Store,
    access_key_id: &str,
    account_id: &str,
    now_ms: i64,
    hours: u32,
) -> Result<(String, Session), StoreError> {
    let token = random_token();
    let session = Session {
        access_key_id: access_key_id.to_string(),
        account_id: account_id.to_string(),
        csrf: random_token(),
        expires_ms: now_ms + i64::from(hours) * 3_600_000,
        id: id_of(&token),
    };
    let mut tx = store.begin().await?;
    let expired = tx
        .list(&ListQuery {
            kind: SESSION.into(),
            account: SESSIONS.into(),
            sort_max: Some(expiry_key(now_ms)),
            limit: SWEEP,
            ..Default::default()
        })
        .await?;
    for r in expired {
        tx.delete(SESSION, SESSIONS, &r.id).await?;
    }
    tx.insert(&Record {
        kind: SESSION.into(),
        account: SESSIONS.into(),
        id: session.id.clone(),
        parent: None,
        sort: expiry_key(session.expires_ms),
        body: serde_json::to_string(&session).unwrap_or_default(),
        created_ms: now_ms,
        updated_ms: now_ms,
    })
    .await?;
    tx.commit().await?;
    Ok((token, session))
}

/// The live session the token names, if any.
pub async fn find(
    store: &dyn Store,
    token: &str,
    now_ms: i64,
) -> Result<Option<Session>, StoreError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let id = id_of(token);
    let mut reader = store.read().await?;
    let Some(rec) = reader.get(SESSION, SESSIONS, &id).await? else {
        return Ok(None);
    };
    let Ok(mut s) = serde_json::from_str::<Session>(&rec.body) else {
        return Ok(None);
    };
    if s.expires_ms <= now_ms {
        return Ok(None);
    }
    s.id = id;
    Ok(Some(s))
}

pub async fn close(store: &dyn Store, session: &Session) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    tx.delete(SESSION, SESSIONS, &session.id).await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_is_found_by_its_token_until_it_ends_or_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::storage::sqlite::SqliteStore::open(&dir.path().join("k.db"))
            .await
            .unwrap();
        let (token, s) = open(&store, "AKID1", "111122223333", 1_000, 12)
            .await
            .unwrap();
        assert_eq!(s.expires_ms, 1_000 + 12 * 3_600_000);
        assert_ne!(
            s.id, token,
            "the database holds the token's digest, not the token"
        );
        let found = find(&store, &token, 2_000).await.unwrap().unwrap();
        assert_eq!(
            (found.access_key_id.as_str(), found.csrf.as_str()),
            ("AKID1", s.csrf.as_str())
        );
        assert!(find(&store, &token, s.expires_ms).await.unwrap().is_none());
        assert!(
            find(&store, &random_token(), 2_000)
                .await
                .unwrap()
                .is_none()
        );
        assert!(find(&store, "not hex", 2_000).await.unwrap().is_none());
        close(&store, &found).await.unwrap();
        assert!(find(&store, &token, 2_000).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn signing_in_sweeps_sessions_that_have_ended() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::storage::sqlite::SqliteStore::open(&dir.path().join("k.db"))
            .await
            .unwrap();
        for _ in 0..3 {
            open(&store, "AKID1", "1", 0, 1).await.unwrap();
        }
        assert_eq!(store.count(SESSION).await.unwrap(), 3);
        open(&store, "AKID1", "1", 2 * 3_600_000, 1).await.unwrap();
        assert_eq!(store.count(SESSION).await.unwrap(), 1);
    }
}
