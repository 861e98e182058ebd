//! Schema versions per backend. A version is applied once, in order, inside a transaction;
//! the applied set lives in `schema_migrations`.

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
