//! Which socket layout a fleet uses ([`FleetSockets`]) and how [`FleetSockets::Auto`] decides.

use std::io;

use tracing::{info, warn};

use super::limits::{ensure_fds, fits, fleet_fds};

/// How the devices of a fleet get their sockets.
///
/// - [`PerDevice`](FleetSockets::PerDevice): each device has its own TCP listener and UDP
///   socket on 127.0.0.N:P (plus one socket on the broadcast address): 2 descriptors per
///   device. Works everywhere.
/// - [`Shared`](FleetSockets::Shared) (Linux): one TCP listener and one UDP socket on
///   `0.0.0.0:P`, restricted to `lo`, serve every device: connections are dispatched by
///   their local address, datagrams by their destination address (`IP_PKTINFO`), and replies
///   leave from each device's own address. 2 descriptors for the whole fleet. Elsewhere it
///   falls back to per-device sockets.
/// - [`Auto`](FleetSockets::Auto) (default): per-device sockets when they fit the
///   descriptor limit together with the expected connections
///   ([`FleetConfig::connections`](super::FleetConfig::connections)), else shared sockets.
///
/// Clients cannot tell the modes apart: every device answers TCP and UDP on its own address
/// and port, and discovery replies come from the device's address and port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FleetSockets {
    /// Per-device sockets if they fit the file-descriptor limit, else shared sockets.
    #[default]
    Auto,
    /// A TCP listener and a UDP socket per device.
    PerDevice,
    /// One TCP listener and one UDP socket for the whole fleet (Linux).
    Shared,
}

impl FleetSockets {
    /// A short name for logs and output: `auto`, `per-device` or `shared`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::PerDevice => "per-device",
            Self::Shared => "shared",
        }
    }
}

/// True where shared sockets are implemented.
pub(crate) const SHARED_SUPPORTED: bool = cfg!(target_os = "linux");

/// Resolves `requested` to the mode a fleet of `devices` uses (never `Auto`), after checking
/// (and raising) the descriptor limit for it. Shared sockets listen on `lo` only, so they
/// serve only a fleet on loopback addresses (`loopback`); elsewhere `Auto` means per-device.
pub(crate) fn resolve(
    requested: FleetSockets,
    devices: usize,
    broadcast: bool,
    connections: usize,
    loopback: bool,
) -> io::Result<FleetSockets> {
    let (n, c) = (devices as u64, connections as u64);
    let per_device = fleet_fds(FleetSockets::PerDevice, n, broadcast, c);
    let shared = fleet_fds(FleetSockets::Shared, n, broadcast, c);
    let what =
        |mode: &str| format!("a fleet of {devices} devices with {connections} connections ({mode} sockets)");
    let shared_ok = SHARED_SUPPORTED && loopback;
    let mode = match requested {
        FleetSockets::Shared if SHARED_SUPPORTED && !loopback => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "shared fleet sockets serve loopback addresses (127.0.0.0/8) only",
            ));
        }
        FleetSockets::Shared if SHARED_SUPPORTED => {
            ensure_fds(shared, &what("shared"))?;
            FleetSockets::Shared
        }
        FleetSockets::Shared => {
            warn!("shared fleet sockets need Linux; using per-device sockets");
            ensure_fds(per_device, &what("per-device"))?;
            FleetSockets::PerDevice
        }
        FleetSockets::PerDevice => {
            ensure_fds(per_device, &what("per-device"))?;
            FleetSockets::PerDevice
        }
        FleetSockets::Auto if !shared_ok || fits(per_device)? => {
            ensure_fds(per_device, &what("per-device"))?;
            FleetSockets::PerDevice
        }
        FleetSockets::Auto => {
            info!(
                devices,
                connections,
                per_device_fds = per_device,
                "per-device sockets do not fit the file-descriptor limit; using shared sockets"
            );
            ensure_fds(shared, &what("even with shared"))?;
            FleetSockets::Shared
        }
    };
    info!(devices, sockets = mode.as_str(), "fleet socket mode");
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_modes_are_kept_and_small_auto_fleets_use_per_device_sockets() {
        assert_eq!(resolve(FleetSockets::PerDevice, 3, true, 3, true).unwrap(), FleetSockets::PerDevice);
        assert_eq!(resolve(FleetSockets::Auto, 3, true, 3, true).unwrap(), FleetSockets::PerDevice);
        let shared = resolve(FleetSockets::Shared, 3, true, 3, true).unwrap();
        assert_eq!(shared == FleetSockets::Shared, SHARED_SUPPORTED);
    }

    #[test]
    fn auto_switches_to_shared_when_per_device_does_not_fit() {
        let (soft, _) = rlimit::Resource::NOFILE.get().unwrap();
        // More devices than descriptors, but few connections: only shared sockets fit
        // (unless the hard limit can be raised, e.g. with CAP_SYS_RESOURCE).
        let devices = usize::try_from(soft.min(1 << 24)).unwrap();
        let mode = resolve(FleetSockets::Auto, devices, true, 10, true).unwrap();
        if SHARED_SUPPORTED && !fits(fleet_fds(FleetSockets::PerDevice, devices as u64, true, 10)).unwrap() {
            assert_eq!(mode, FleetSockets::Shared);
        }
    }

    #[test]
    fn shared_sockets_need_loopback_addresses() {
        let e = resolve(FleetSockets::Shared, 3, false, 3, false);
        assert_eq!(e.is_err(), SHARED_SUPPORTED);
        assert_eq!(resolve(FleetSockets::Auto, 3, false, 3, false).unwrap(), FleetSockets::PerDevice);
    }

    #[test]
    fn too_many_connections_fail_even_in_shared_mode() {
        let e = resolve(FleetSockets::Auto, 10, true, usize::MAX / 4, true).unwrap_err();
        assert!(e.to_string().contains("even with shared"), "{e}");
        assert!(e.to_string().contains("RLIMIT_NOFILE"), "{e}");
    }
}
