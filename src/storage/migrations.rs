//! Schema versions per backend. A version is applied once, in order, each in its own
//! transaction; the applied set lives in `schema_migrations`, and its highest version is the
//! database's schema version. A database whose version is above the newest known here was
//! written by a newer Klaxon and is refused before anything writes to it.

use super::StoreError;

/// What a start would do to a database: the versions it has, and the ones it would apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub current: i64,
    pub newest_known: i64,
    pub pending: Vec<i64>,
}

impl Plan {
    /// From the versions a database has applied (none for a new database).
    pub fn new(list: &[(i64, &str)], applied: &[i64]) -> Result<Plan, StoreError> {
        let newest_known = list.last().map(|(v, _)| *v).unwrap_or(0);
        let current = applied.iter().copied().max().unwrap_or(0);
        if current > newest_known {
            return Err(StoreError::Migration(format!(
                "the database has schema version {current}, written by a newer Klaxon; this Klaxon {} knows schema versions up to {newest_known} and will not open it (upgrade Klaxon, or restore a backup taken before the upgrade)",
                env!("CARGO_PKG_VERSION")
            )));
        }
        let pending = list
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| !applied.contains(v))
            .collect();
        Ok(Plan {
            current,
            newest_known,
            pending,
        })
    }

    /// One line for `klaxon migrate --check` and the start-up log.
    pub fn describe(&self) -> String {
        if self.pending.is_empty() {
            format!(
                "schema version {} is current; no migration to run",
                self.current
            )
        } else {
            let list: Vec<String> = self.pending.iter().map(|v| v.to_string()).collect();
            format!(
                "schema version {}; would run migration(s) {} to reach version {}",
                self.current,
                list.join(", "),
                self.newest_known
            )
        }
    }
}

/// The statements of one migration, in order.
pub fn statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(';').map(str::trim).filter(|s| !s.is_empty())
}

pub const SQLITE: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE records (
        kind TEXT NOT NULL,
        account TEXT NOT NULL,
        id TEXT NOT NULL,
        parent TEXT,
        sort TEXT NOT NULL,
        body TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (kind, account, id)
    );
    CREATE INDEX records_by_sort ON records (kind, account, sort, id);
    CREATE INDEX records_by_parent ON records (kind, account, parent, sort, id);",
    ),
    (2, TIMERS_SQLITE),
];

/// Engine work due at a time: claimed under a lease, deleted when done (see `storage::timers`).
const TIMERS_SQLITE: &str = "CREATE TABLE timers (
        id TEXT NOT NULL PRIMARY KEY,
        account TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        step INTEGER NOT NULL,
        due_ms INTEGER NOT NULL,
        lease_owner TEXT,
        lease_until_ms INTEGER,
        claims INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX timers_by_due ON timers (due_ms, id);
    CREATE INDEX timers_by_lease ON timers (lease_until_ms) WHERE lease_owner IS NOT NULL;";

const TIMERS_POSTGRES: &str = "CREATE TABLE timers (
        id TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,
        account TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        step BIGINT NOT NULL,
        due_ms BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until_ms BIGINT,
        claims BIGINT NOT NULL DEFAULT 0,
        created_ms BIGINT NOT NULL
    );
    CREATE INDEX timers_by_due ON timers (due_ms, id);
    CREATE INDEX timers_by_lease ON timers (lease_until_ms) WHERE lease_owner IS NOT NULL;";

/// `COLLATE "C"` makes Postgres order keys bytewise, as SQLite does, so both backends page alike.
pub const POSTGRES: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE records (
        kind TEXT COLLATE \"C\" NOT NULL,
        account TEXT COLLATE \"C\" NOT NULL,
        id TEXT COLLATE \"C\" NOT NULL,
        parent TEXT COLLATE \"C\",
        sort TEXT COLLATE \"C\" NOT NULL,
        body TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        PRIMARY KEY (kind, account, id)
    );
    CREATE INDEX records_by_sort ON records (kind, account, sort, id);
    CREATE INDEX records_by_parent ON records (kind, account, parent, sort, id);",
    ),
    (2, TIMERS_POSTGRES),
];
