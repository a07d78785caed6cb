//! demo (pending)
