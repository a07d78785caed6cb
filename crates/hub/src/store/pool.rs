//! A small pool of connections for reads and for the few direct writes (devices, schedules,
//! maintenance). The writer thread has its own connection; in WAL mode readers see the last
//! committed state and never wait for it.

use std::{
    ops::{Deref, DerefMut},
    path::{Path, PathBuf},
    sync::Mutex,
};

use rusqlite::Connection;

use super::{
    error::{Error, Result},
    schema,
};

/// Connections kept open while idle; more are opened on demand and closed after use.
const MAX_IDLE: usize = 4;

/// The pool.
pub(crate) struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    /// Creates the database (and its directory) if needed, switches it to WAL and migrates.
    pub(crate) fn open(path: &Path) -> Result<Pool> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| Error::CreateDir { dir: dir.to_path_buf(), source })?;
        }
        let mut first = schema::open_connection(path)?;
        schema::prepare(&mut first, path)?;
        Ok(Pool { path: path.to_path_buf(), idle: Mutex::new(vec![first]) })
    }

    /// A connection, returned to the pool when dropped.
    pub(crate) fn get(&self) -> Result<Pooled<'_>> {
        let reused = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match reused {
            Some(c) => c,
            None => schema::open_connection(&self.path)?,
        };
        Ok(Pooled { conn: Some(conn), pool: self })
    }
}

/// A connection on loan from the [`Pool`].
pub(crate) struct Pooled<'a> {
    conn: Option<Connection>,
    pool: &'a Pool,
}

impl Deref for Pooled<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // Only `drop` takes the connection out.
        self.conn.as_ref().unwrap_or_else(|| unreachable!("pooled connection used after drop"))
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("pooled connection used after drop"))
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // A connection left inside a transaction (a panic mid-query) is not reused.
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}
