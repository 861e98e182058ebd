//! Keyset pagination shared by every list operation: pages are filled up to the limit even
//! when a filter drops records, and the last page carries no token.

use crate::storage::{ListQuery, Reader, Record, StoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Tokens name the last record returned, so items added or removed between pages never make
/// another item appear twice or go missing. `scope` ties a token to the list it came from.
pub fn encode_token(scope: &str, sort: &str, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{scope}\n{sort}\n{id}"))
}

pub fn decode_token(scope: &str, token: &str) -> Option<(String, String)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let mut parts = raw.splitn(3, '\n');
    if parts.next()? != scope {
        return None;
    }
    Some((parts.next()?.to_string(), parts.next()?.to_string()))
}

pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Scans `q` from its `after` position, keeping what `keep` maps to `Some`, until `max` items
/// are found; a token is returned only when a further kept item exists.
pub async fn page<T>(
    reader: &mut dyn Reader,
    mut q: ListQuery,
    scope: &str,
    max: usize,
    keep: impl Fn(&Record) -> Option<T>,
) -> Result<Page<T>, StoreError> {
    let mut items = Vec::new();
    let mut last: Option<(String, String)> = None;
    q.limit = (max as i64 + 1).clamp(2, 1025);
    loop {
        let batch = reader.list(&q).await?;
        for r in &batch {
            if let Some(t) = keep(r) {
                if items.len() == max {
                    let next = last.map(|(s, i)| encode_token(scope, &s, &i));
                    return Ok(Page { items, next });
                }
                items.push(t);
                last = Some((r.sort.clone(), r.id.clone()));
            }
        }
        match batch.last() {
            Some(r) if batch.len() as i64 == q.limit => {
                q.after = Some((r.sort.clone(), r.id.clone()))
            }
            _ => return Ok(Page { items, next: None }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_scoped() {
        let t = encode_token("contacts", "alias-a", "arn:x/y");
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(
            decode_token("contacts", &t),
            Some(("alias-a".into(), "arn:x/y".into()))
        );
        assert_eq!(decode_token("channels", &t), None);
        assert_eq!(decode_token("contacts", "!!"), None);
    }
}
