//! emulate (pending)
