//! Errors loading a [`Profile`](super::Profile) from a device dump.

use std::{io, path::PathBuf};

/// A device dump could not be turned into a profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read device dump {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The text is not JSON.
    #[error("device dump {origin} is not valid JSON: {source}")]
    Json {
        /// Where the text came from (a path or `<string>`).
        origin: String,
        /// The parser error.
        #[source]
        source: serde_json::Error,
    },
    /// The JSON is not an object (`{"system":{"get_sysinfo":{…}},…}`).
    #[error("device dump {origin} is not a JSON object of modules")]
    NotObject {
        /// Where the text came from.
        origin: String,
    },
    /// There is no `system.get_sysinfo` object.
    #[error("device dump {origin} has no system.get_sysinfo object")]
    NoSysinfo {
        /// Where the text came from.
        origin: String,
    },
    /// A sysinfo field the emulator needs is missing or has the wrong type.
    #[error("device dump {origin}: sysinfo field `{field}` {problem}")]
    BadField {
        /// Where the text came from.
        origin: String,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}
