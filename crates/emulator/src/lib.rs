//! plugctl-emulator (in progress)
