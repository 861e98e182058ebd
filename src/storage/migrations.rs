//! Schema versions per backend. A version is applied once, in order, inside a transaction;
//! the applied set lives in `schema_migrations`.

pub const SQLITE: &[(i64, &str)] = &[(
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
)];

/// `COLLATE "C"` makes Postgres order keys bytewise, as SQLite does, so both backends page alike.
pub const POSTGRES: &[(i64, &str)] = &[(
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
)];
