//! Helpers shared by the fuzz targets in `fuzz_targets/`.
//!
//! - [`alloc`]: a global allocator that records the largest single allocation, so targets can
//!   assert that a decoder never allocates more than its size cap, whatever a peer announces
//!   (libFuzzer's own `-malloc_limit_mb` needs a sanitizer runtime, which stable Rust lacks);
//! - [`chunks`]: cutting one input into pieces in a way the fuzzer controls, to check that
//!   incremental decoders give the same result however the bytes arrive.

pub mod alloc;
pub mod chunks;
