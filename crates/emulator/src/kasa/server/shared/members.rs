//! The fleet members of a shared-socket fleet, looked up by address.

use std::{net::Ipv4Addr, sync::Arc};

use tokio::sync::Semaphore;

use crate::kasa::server::SharedDevice;

/// One device as the shared servers see it.
pub(crate) struct Member {
    /// The device's own address (connections and datagrams to it are its).
    pub(crate) ip: Ipv4Addr,
    /// The device state.
    pub(crate) device: SharedDevice,
    /// Connection slots: at most `ServerConfig::max_connections` at once, as in per-device
    /// mode.
    pub(crate) slots: Arc<Semaphore>,
}

impl Member {
    /// A member with `max_connections` connection slots.
    pub(crate) fn new(ip: Ipv4Addr, device: SharedDevice, max_connections: usize) -> Self {
        Self { ip, device, slots: Arc::new(Semaphore::new(max_connections.max(1))) }
    }
}

/// Every member, sorted by address (lookups are binary searches: no hash table per fleet).
pub(crate) struct Members {
    sorted: Vec<Member>,
}

impl Members {
    /// Builds the table (any order; duplicate addresses keep the first).
    pub(crate) fn new(mut list: Vec<Member>) -> Self {
        list.sort_by_key(|m| m.ip);
        list.dedup_by_key(|m| m.ip);
        Self { sorted: list }
    }

    /// The member on `ip`, if any.
    pub(crate) fn get(&self, ip: Ipv4Addr) -> Option<&Member> {
        self.sorted.binary_search_by_key(&ip, |m| m.ip).ok().and_then(|i| self.sorted.get(i))
    }

    /// Every member, by address.
    pub(crate) fn all(&self) -> &[Member] {
        &self.sorted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kasa::{builtin, server::shared as wrap};

    #[test]
    fn lookup_by_address() {
        let p = builtin("hs100-hw2").unwrap();
        let m = |last: u8| Member::new(Ipv4Addr::new(127, 0, 0, last), wrap(p.instantiate(0, 1)), 4);
        let t = Members::new(vec![m(9), m(3), m(5)]);
        assert_eq!(t.all().iter().map(|m| m.ip.octets()[3]).collect::<Vec<_>>(), [3, 5, 9]);
        assert!(t.get(Ipv4Addr::new(127, 0, 0, 5)).is_some());
        assert!(t.get(Ipv4Addr::new(127, 0, 0, 4)).is_none());
        assert!(t.get(Ipv4Addr::new(127, 0, 0, 1)).is_none());
    }
}
