//! One module per command group.

pub mod audit;
pub mod away;
pub mod cloud;
pub mod countdown;
pub mod decode;
pub mod demo;
pub mod device;
pub mod discover;
pub mod emulate;
pub mod energy;
pub mod logins;
pub mod schedule;
pub mod serve;
pub mod system;
pub mod time;
pub mod wifi;

/// A mistake in the command line that clap cannot catch (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Shorthand for a usage error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}
