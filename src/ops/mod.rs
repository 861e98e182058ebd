//! Operating a server: backups (taken by `klaxon backup` and on the `[backup]` schedule),
//! restore, and the watchdog call that tells an outside checker Klaxon is alive.

pub mod backup;
pub mod priority;
pub mod schedule;
pub mod watchdog;
