//! The SQL both backends run, written once in SQLite's spelling (`?N` placeholders); the
//! PostgreSQL backend runs the same text with `$N` (`POSTGRES`). What truly differs (claiming
//! under SKIP LOCKED, the wake-up NOTIFY, row locks, count casts) stays in each backend.

use super::{Record, Result};
use std::sync::LazyLock;

pub(crate) const COLUMNS: &str = "kind, account, id, parent, sort, body, created_ms, updated_ms";

/// Statements by what they do; each backend binds the same parameters in the same order.
pub(crate) struct Statements {
    /// (kind, account, id) → a record.
    pub get: &'static str,
    /// (kind, account, id, parent, sort, body, created_ms, updated_ms); no row on a conflict.
    pub insert: &'static str,
    /// (kind, account, id, parent, sort, body, updated_ms).
    pub update: &'static str,
    /// (kind, account, id).
    pub delete: &'static str,
    /// (kind, account, parent).
    pub delete_children: &'static str,
    /// (kind, account).
    pub delete_all: &'static str,
    /// (id, account, kind, subject, step, due_ms); no row when the id is scheduled.
    pub schedule: &'static str,
    /// (id, owner).
    pub finish_timer: &'static str,
    /// (owner, lease_until_ms).
    pub renew_leases: &'static str,
    /// (id, owner, due_ms).
    pub postpone_timer: &'static str,
    /// (owner).
    pub release_leases: &'static str,
    /// () → (earliest free due time, earliest lease expiry).
    pub next_timer: &'static str,
}

pub(crate) const SQLITE: Statements = Statements {
    get: "SELECT kind, account, id, parent, sort, body, created_ms, updated_ms FROM records WHERE kind = ?1 AND account = ?2 AND id = ?3",
    insert: "INSERT INTO records (kind, account, id, parent, sort, body, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (kind, account, id) DO NOTHING",
    update: "UPDATE records SET parent = ?4, sort = ?5, body = ?6, updated_ms = ?7 WHERE kind = ?1 AND account = ?2 AND id = ?3",
    delete: "DELETE FROM records WHERE kind = ?1 AND account = ?2 AND id = ?3",
    delete_children: "DELETE FROM records WHERE kind = ?1 AND account = ?2 AND parent = ?3",
    delete_all: "DELETE FROM records WHERE kind = ?1 AND account = ?2",
    schedule: "INSERT INTO timers (id, account, kind, subject, step, due_ms, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (id) DO NOTHING",
    finish_timer: "DELETE FROM timers WHERE id = ?1 AND lease_owner = ?2",
    renew_leases: "UPDATE timers SET lease_until_ms = ?2 WHERE lease_owner = ?1",
    postpone_timer: "UPDATE timers SET due_ms = ?3, lease_owner = NULL, lease_until_ms = NULL WHERE id = ?1 AND lease_owner = ?2",
    release_leases: "UPDATE timers SET lease_owner = NULL, lease_until_ms = NULL WHERE lease_owner = ?1",
    next_timer: "SELECT (SELECT MIN(due_ms) FROM timers WHERE lease_owner IS NULL), (SELECT MIN(lease_until_ms) FROM timers WHERE lease_owner IS NOT NULL)",
};

/// The same statements with PostgreSQL's `$N` placeholders.
pub(crate) static POSTGRES: LazyLock<Statements> = LazyLock::new(|| {
    let s = &SQLITE;
    let pg = |sql: &'static str| -> &'static str { Box::leak(dollars(sql).into_boxed_str()) };
    Statements {
        get: pg(s.get),
        insert: pg(s.insert),
        update: pg(s.update),
        delete: pg(s.delete),
        delete_children: pg(s.delete_children),
        delete_all: pg(s.delete_all),
        schedule: pg(s.schedule),
        finish_timer: pg(s.finish_timer),
        renew_leases: pg(s.renew_leases),
        postpone_timer: pg(s.postpone_timer),
        release_leases: pg(s.release_leases),
        next_timer: pg(s.next_timer),
    }
});

/// Leases due timers whose lease is free or expired: (owner, now_ms, lease_until_ms, limit).
/// `lock` follows the inner SELECT (PostgreSQL's `FOR UPDATE SKIP LOCKED`, so nodes claim
/// side by side; nothing for SQLite, whose single writer claims alone).
pub(crate) fn claim(lock: &str) -> String {
    format!(
        "UPDATE timers SET lease_owner = ?1, lease_until_ms = ?3, claims = claims + 1 WHERE id IN (SELECT id FROM timers WHERE due_ms <= ?2 AND (lease_owner IS NULL OR lease_until_ms <= ?2) ORDER BY due_ms, id LIMIT ?4{lock}) RETURNING id, account, kind, subject, step, due_ms, claims"
    )
}

/// `?N` placeholders spelled `$N` (no statement here holds a `?` in a string literal).
pub(crate) fn dollars(sql: &str) -> String {
    sql.replace('?', "$")
}

/// The placeholder for the n-th bind in each spelling, for statements built at run time.
pub(crate) fn question(n: usize) -> String {
    format!("?{n}")
}

pub(crate) fn dollar(n: usize) -> String {
    format!("${n}")
}

/// A record from a row of `COLUMNS`, whichever backend read it.
pub(crate) fn record<'r, R>(r: &'r R) -> Result<Record>
where
    R: sqlx::Row,
    &'static str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Record {
        kind: r.try_get("kind")?,
        account: r.try_get("account")?,
        id: r.try_get("id")?,
        parent: r.try_get("parent")?,
        sort: r.try_get("sort")?,
        body: r.try_get("body")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_spells_the_same_statements_with_dollar_placeholders() {
        assert_eq!(
            POSTGRES.update,
            "UPDATE records SET parent = $4, sort = $5, body = $6, updated_ms = $7 WHERE kind = $1 AND account = $2 AND id = $3"
        );
        assert!(
            POSTGRES
                .schedule
                .ends_with("($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING")
        );
        let claim = dollars(&claim(" FOR UPDATE SKIP LOCKED"));
        assert!(claim.contains("LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING"));
        assert!(!claim.contains('?'));
    }
}
