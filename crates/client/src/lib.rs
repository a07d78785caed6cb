//! plugctl-client (in progress)
