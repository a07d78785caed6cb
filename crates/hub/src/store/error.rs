//! The store's internal, typed errors (shown to callers as [`super::StoreError`]).

use std::path::PathBuf;

/// What went wrong inside the store.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The database file could not be opened or set up.
    #[error("{}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The directory for the database could not be created.
    #[error("cannot create {}: {source}", dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was written by a newer plugctl.
    #[error(
        "{}: database schema v{found} is newer than this plugctl understands (v{known}); \
         use a newer plugctl or another --db",
        path.display()
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The file is an SQLite database, but not plugctl's.
    #[error("{}: not a plugctl database (it already has other tables)", path.display())]
    Foreign {
        /// The file.
        path: PathBuf,
    },
    /// The database could not switch to WAL (e.g. a file system without shared memory).
    #[error("{}: cannot use write-ahead logging (journal mode stays {mode:?})", path.display())]
    NoWal {
        /// The file.
        path: PathBuf,
        /// The journal mode SQLite kept.
        mode: String,
    },
    /// An SQLite call failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A JSON value could not be written.
    #[error("cannot encode {what} as JSON: {source}")]
    Json {
        /// What.
        what: &'static str,
        /// Why.
        source: serde_json::Error,
    },
    /// A time is outside the calendar's range.
    #[error("time {0} ms is out of range")]
    Time(i64),
    /// The writer thread stopped (it panicked or the store is closing).
    #[error("the store's writer has stopped")]
    WriterGone,
    /// The writer thread could not be started.
    #[error("cannot start the store's writer thread: {0}")]
    Spawn(std::io::Error),
    /// Committing a batch failed; it stays queued and is retried.
    #[error("commit failed (retrying in the background): {0}")]
    Commit(String),
    /// Samples queued before a flush were dropped because the queue was full.
    #[error("write queue full: {0} samples queued before this flush were dropped")]
    Dropped(u64),
    /// No home directory, so no default database path.
    #[error("no home directory to put the database in; pass --db PATH")]
    NoHome,
}

/// Results inside the store.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
