//! # plugctl-bench
//!
//! Helpers for the side-by-side benchmarks in `bench/` (driven by `bench/compare.sh`): each
//! binary prints its result as one JSON line so the driver can compare implementations
//! measured in one run.
//!
//! - [`summary`]: median and p99 of latency samples;
//! - [`flags`]: the tiny `--key value` parser the binaries share;
//! - [`devices`]: reading the fleet an emulator announced (`plugctl emulate kasa --json`);
//! - [`workload`]: the two workloads (one connection, sequential; a fleet in closed loop),
//!   the same for every Rust client;
//! - [`pollers`]: the Rust clients measured: ours (`plugctl-client`) and the floor;
//! - [`process`]: the process's own CPU time and file-descriptor limit.

pub mod devices;
pub mod flags;
pub mod pollers;
pub mod process;
pub mod summary;
pub mod workload;

pub use summary::{summarise, Summary};
