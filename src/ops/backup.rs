//! `klaxon backup` and `klaxon restore`: one file holding a consistent copy of the SQLite
//! database (taken while the server runs) and the data directory's credentials and operator
//! files it needs. The file is a small archive of our own: a first line naming the format, a
//! JSON manifest line (each member's name, size and SHA-256), then the members' bytes in order.

use crate::storage::sqlite;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &str = "KLAXON-BACKUP 1";

/// The data directory's files a restored server needs beside the database.
const DATA_FILES: &[&str] = &["credentials.toml", "operator.token"];

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::storage::StoreError),
    #[error("{0} is not a Klaxon backup (it does not start with the line \"KLAXON-BACKUP 1\")")]
    NotABackup(String),
    #[error("{path} is damaged: {why}")]
    Damaged { path: String, why: String },
    #[error(
        "{0} is not empty; restore into an empty data directory, or pass --force to replace what is there"
    )]
    NotEmpty(String),
    #[error(
        "this server uses PostgreSQL: back it up with pg_dump (see the README, \"Running in production\"); klaxon backup copies the embedded SQLite database"
    )]
    Postgres,
    #[error("{0}")]
    Invalid(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    klaxon_version: String,
    created_ms: i64,
    schema_version: i64,
    members: Vec<Member>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Member {
    name: String,
    size: u64,
    sha256: String,
}

/// What a backup holds, for the command's report.
#[derive(Debug)]
pub struct Summary {
    pub bytes: u64,
    pub members: Vec<String>,
    pub schema_version: i64,
}

/// Where the SQLite file of a database URL is, or why there is none.
pub fn sqlite_path(database_url: &str) -> Result<PathBuf, BackupError> {
    match database_url.strip_prefix("sqlite://") {
        Some(p) => Ok(PathBuf::from(p)),
        None if database_url.starts_with("postgres") => Err(BackupError::Postgres),
        None => Err(BackupError::Invalid(format!(
            "database_url {} is neither sqlite:// nor postgres://",
            crate::storage::redact_url(database_url)
        ))),
    }
}

/// Writes the backup of the database at `db` (and the data directory's files) to `to`,
/// through a temporary file beside it, so a failed run leaves no half-written backup. The copy
/// and the archive are made on a thread of their own at the lowest CPU and I/O priority, so
/// paging keeps the machine first (see benches/backup.rs), and no runtime worker blocks on it.
pub async fn create(
    db: &Path,
    data_dir: &Path,
    to: &Path,
    now_ms: i64,
) -> Result<Summary, BackupError> {
    if !db.exists() {
        return Err(BackupError::Invalid(format!(
            "there is no database at {} (is --data-dir or --config the server's?)",
            db.display()
        )));
    }
    let schema = sqlite::plan(db, crate::storage::migrations::SQLITE)
        .await?
        .current;
    let (db, data_dir, to) = (db.to_path_buf(), data_dir.to_path_buf(), to.to_path_buf());
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("klaxon-backup".into())
        .spawn(move || {
            super::priority::lowest_for_this_thread();
            let _ = tx.send(copy_and_pack(&db, &data_dir, &to, now_ms, schema));
        })
        .map_err(|e| BackupError::Invalid(format!("cannot start the backup thread: {e}")))?;
    rx.await
        .map_err(|_| BackupError::Invalid("the backup thread ended without an answer".into()))?
}

fn copy_and_pack(
    db: &Path,
    data_dir: &Path,
    to: &Path,
    now_ms: i64,
    schema: i64,
) -> Result<Summary, BackupError> {
    let work = tempfile_beside(to)?;
    let copy = work.join("klaxon.db");
    let result = sqlite::copy_database(db, &copy)
        .map_err(BackupError::from)
        .and_then(|()| {
            let mut files: Vec<(String, PathBuf)> = vec![("klaxon.db".into(), copy)];
            for name in DATA_FILES {
                let p = data_dir.join(name);
                if p.exists() {
                    files.push((name.to_string(), p));
                }
            }
            write_archive(&files, to, &work, now_ms, schema)
        });
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn tempfile_beside(to: &Path) -> Result<PathBuf, BackupError> {
    let dir = to
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let work = dir.join(format!(".klaxon-backup-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&work).map_err(io(&work))?;
    Ok(work)
}

fn write_archive(
    files: &[(String, PathBuf)],
    to: &Path,
    work: &Path,
    now_ms: i64,
    schema_version: i64,
) -> Result<Summary, BackupError> {
    let mut members = Vec::new();
    for (name, path) in files {
        let (size, sha256) = digest_file(path)?;
        members.push(Member {
            name: name.clone(),
            size,
            sha256,
        });
    }
    let manifest = Manifest {
        klaxon_version: env!("CARGO_PKG_VERSION").into(),
        created_ms: now_ms,
        schema_version,
        members,
    };
    let partial = work.join("backup.partial");
    {
        let f = owner_only(&partial)?;
        let mut out = std::io::BufWriter::new(f);
        let head =
            serde_json::to_string(&manifest).map_err(|e| BackupError::Invalid(e.to_string()))?;
        writeln!(out, "{MAGIC}").map_err(io(&partial))?;
        writeln!(out, "{head}").map_err(io(&partial))?;
        for (_, path) in files {
            let mut f = std::fs::File::open(path).map_err(io(path))?;
            copy_flushing(&mut f, &mut out).map_err(io(&partial))?;
        }
        let f = out.into_inner().map_err(|e| io(&partial)(e.into_error()))?;
        f.sync_all().map_err(io(&partial))?;
    }
    std::fs::rename(&partial, to).map_err(io(to))?;
    Ok(Summary {
        bytes: std::fs::metadata(to).map_err(io(to))?.len(),
        members: manifest.members.iter().map(|m| m.name.clone()).collect(),
        schema_version,
    })
}

/// Copies `from` into `out`, flushing `out` to disk every 8 MiB: a copy of gigabytes left to the
/// kernel's writeback would make every writer on the machine wait (the server's included).
fn copy_flushing(
    from: &mut impl Read,
    out: &mut std::io::BufWriter<std::fs::File>,
) -> std::io::Result<()> {
    const FLUSH_EVERY: usize = 8 << 20;
    let mut buf = vec![0u8; 1 << 16];
    let mut since = 0;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n])?;
        since += n;
        if since >= FLUSH_EVERY {
            out.flush()?;
            out.get_ref().sync_data()?;
            since = 0;
        }
    }
}

/// A new file only its owner may read: a backup holds the API's secret keys.
fn owner_only(path: &Path) -> Result<std::fs::File, BackupError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map_err(io(path))
}

fn digest_file(path: &Path) -> Result<(u64, String), BackupError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(h.finalize())))
}

/// Unpacks `from` into `data_dir` (empty, or replaced with `force`), checking every member's
/// size and digest before anything is put in place; the database file is named by `db`.
pub fn restore(
    from: &Path,
    data_dir: &Path,
    db: &Path,
    force: bool,
) -> Result<Summary, BackupError> {
    let f = std::fs::File::open(from).map_err(io(from))?;
    let mut r = BufReader::new(f);
    let mut first = String::new();
    let magic_ok = r.read_line(&mut first).is_ok() && first.trim_end() == MAGIC;
    if !magic_ok {
        return Err(BackupError::NotABackup(from.display().to_string()));
    }
    let damaged = |why: String| BackupError::Damaged {
        path: from.display().to_string(),
        why,
    };
    let mut head = String::new();
    r.read_line(&mut head).map_err(io(from))?;
    let manifest: Manifest =
        serde_json::from_str(&head).map_err(|e| damaged(format!("its manifest: {e}")))?;
    let known = crate::storage::migrations::SQLITE
        .last()
        .map(|(v, _)| *v)
        .unwrap_or(0);
    if manifest.schema_version > known {
        return Err(BackupError::Invalid(format!(
            "{} was taken by Klaxon {} at schema version {}; this Klaxon {} knows schema versions up to {known}",
            from.display(),
            manifest.klaxon_version,
            manifest.schema_version,
            env!("CARGO_PKG_VERSION")
        )));
    }
    for m in &manifest.members {
        let allowed = m.name == "klaxon.db" || DATA_FILES.contains(&m.name.as_str());
        if !allowed {
            return Err(damaged(format!("it names an unknown member {:?}", m.name)));
        }
    }
    if data_dir.exists() {
        let mut entries = std::fs::read_dir(data_dir).map_err(io(data_dir))?;
        if entries.next().is_some() && !force {
            return Err(BackupError::NotEmpty(data_dir.display().to_string()));
        }
    }
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let work = data_dir.join(format!(".klaxon-restore-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&work).map_err(io(&work))?;
    let unpacked = unpack(&mut r, &manifest, &work).map_err(|e| {
        let _ = std::fs::remove_dir_all(&work);
        match e {
            BackupError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                damaged("it ends early".into())
            }
            other => other,
        }
    });
    unpacked?;
    let placed = place(&manifest, &work, data_dir, db);
    let _ = std::fs::remove_dir_all(&work);
    placed?;
    Ok(Summary {
        bytes: std::fs::metadata(from).map_err(io(from))?.len(),
        members: manifest.members.iter().map(|m| m.name.clone()).collect(),
        schema_version: manifest.schema_version,
    })
}

fn unpack(r: &mut impl Read, manifest: &Manifest, work: &Path) -> Result<(), BackupError> {
    for m in &manifest.members {
        let path = work.join(&m.name);
        let mut out = owner_only(&path)?;
        let mut h = Sha256::new();
        let mut left = m.size;
        let mut buf = vec![0u8; 1 << 16];
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            r.read_exact(&mut buf[..want]).map_err(io(&path))?;
            h.update(&buf[..want]);
            out.write_all(&buf[..want]).map_err(io(&path))?;
            left -= want as u64;
        }
        out.sync_all().map_err(io(&path))?;
        if hex::encode(h.finalize()) != m.sha256 {
            return Err(BackupError::Damaged {
                path: m.name.clone(),
                why: "its digest does not match the manifest".into(),
            });
        }
    }
    Ok(())
}

fn place(manifest: &Manifest, work: &Path, data_dir: &Path, db: &Path) -> Result<(), BackupError> {
    for m in &manifest.members {
        let target = if m.name == "klaxon.db" {
            // A stale write-ahead log beside the restored file would be replayed into it.
            for suffix in ["-wal", "-shm"] {
                let side = PathBuf::from(format!("{}{suffix}", db.display()));
                if side.exists() {
                    std::fs::remove_file(&side).map_err(io(&side))?;
                }
            }
            if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            db.to_path_buf()
        } else {
            data_dir.join(&m.name)
        };
        let from = work.join(&m.name);
        std::fs::rename(&from, &target).or_else(|_| {
            std::fs::copy(&from, &target)
                .map(|_| ())
                .map_err(io(&target))
        })?;
    }
    Ok(())
}

/// Keeps the newest `keep` scheduled backups in `dir` (named `klaxon-<ms>.backup`).
pub fn prune(dir: &Path, keep: usize) -> Result<usize, BackupError> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("klaxon-") && n.ends_with(".backup"))
        })
        .collect();
    found.sort();
    let mut removed = 0;
    while found.len() > keep {
        let old = found.remove(0);
        std::fs::remove_file(&old).map_err(io(&old))?;
        removed += 1;
    }
    Ok(removed)
}

/// The name of a scheduled backup taken at `now_ms`; names sort by time.
pub fn scheduled_name(now_ms: i64) -> String {
    format!("klaxon-{now_ms:015}.backup")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_backup_is_refused_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("notes.txt");
        std::fs::write(&f, "hello\n").unwrap();
        let e = restore(
            &f,
            &dir.path().join("data"),
            &dir.path().join("data/k.db"),
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("is not a Klaxon backup"), "{e}");
    }

    #[test]
    fn a_damaged_member_is_refused_and_nothing_is_placed() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.txt");
        std::fs::write(&src, "0123456789").unwrap();
        let work = dir.path().join("w");
        std::fs::create_dir_all(&work).unwrap();
        let to = dir.path().join("b.backup");
        write_archive(&[("credentials.toml".into(), src)], &to, &work, 1, 2).unwrap();
        let mut bytes = std::fs::read(&to).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&to, &bytes).unwrap();
        let data = dir.path().join("data");
        let e = restore(&to, &data, &data.join("k.db"), false).unwrap_err();
        assert!(e.to_string().contains("digest does not match"), "{e}");
        assert!(!data.join("credentials.toml").exists());
        bytes.truncate(last - 3);
        std::fs::write(&to, &bytes).unwrap();
        let e = restore(&to, &data, &data.join("k.db"), true).unwrap_err();
        assert!(e.to_string().contains("ends early"), "{e}");
    }

    #[test]
    fn scheduled_backups_keep_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for t in [3, 1, 2, 10] {
            std::fs::write(dir.path().join(scheduled_name(t)), "x").unwrap();
        }
        std::fs::write(dir.path().join("other.backup"), "x").unwrap();
        assert_eq!(prune(dir.path(), 2).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![scheduled_name(3), scheduled_name(10), "other.backup".into()]
        );
    }
}
