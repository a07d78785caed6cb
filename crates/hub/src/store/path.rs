//! The default database location.

use std::path::PathBuf;

use super::{error::Error, StoreError};

/// File name of the database inside the data directory.
pub const DB_FILE_NAME: &str = "plugctl.db";

/// The default database file: `plugctl.db` in the platform data directory
/// (`$XDG_DATA_HOME/plugctl` or `~/.local/share/plugctl` on Linux,
/// `~/Library/Application Support/plugctl` on macOS, `%APPDATA%\plugctl\data` on Windows).
///
/// Fails with a clear message (telling the user to pass `--db`) when there is no home
/// directory. The directory itself is created by [`super::Store::open`].
pub fn default_db_path() -> Result<PathBuf, StoreError> {
    let dirs = directories::ProjectDirs::from("", "", "plugctl").ok_or(Error::NoHome)?;
    Ok(dirs.data_dir().join(DB_FILE_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_ends_in_plugctl_db() {
        // The test machine has a home directory.
        let p = default_db_path().unwrap();
        assert!(p.ends_with(DB_FILE_NAME), "{}", p.display());
        assert!(p.parent().is_some_and(|d| d.to_string_lossy().contains("plugctl")), "{}", p.display());
    }
}
