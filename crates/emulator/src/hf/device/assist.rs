//! Per-peer assist sessions on UDP 48899 (hf-protocol.md §3.2, §5.3): the password marks a
//! peer as discovered, `+ok` puts it in AT mode, silence longer than the timeout or `AT+Q`
//! ends it. In lenient mode (default) AT commands are answered from any peer; in strict mode
//! only from a peer in AT mode.

use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use crate::hf::config::AssistMode;

/// Sessions kept at most; the oldest is forgotten first.
const MAX_SESSIONS: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Session {
    at_mode: bool,
    last: Instant,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Sessions {
    map: HashMap<SocketAddr, Session>,
    timeout: Duration,
    mode: AssistMode,
}

impl Sessions {
    pub(crate) fn new(mode: AssistMode, timeout: Duration) -> Self {
        Self { map: HashMap::new(), timeout, mode }
    }

    fn live(&self, peer: &SocketAddr, now: Instant) -> Option<Session> {
        self.map.get(peer).copied().filter(|s| now.saturating_duration_since(s.last) <= self.timeout)
    }

    fn put(&mut self, peer: SocketAddr, at_mode: bool, now: Instant) {
        if !self.map.contains_key(&peer) && self.map.len() >= MAX_SESSIONS {
            let timeout = self.timeout;
            self.map.retain(|_, s| now.saturating_duration_since(s.last) <= timeout);
            if self.map.len() >= MAX_SESSIONS {
                if let Some(oldest) = self.map.iter().min_by_key(|(_, s)| s.last).map(|(p, _)| *p) {
                    self.map.remove(&oldest);
                }
            }
        }
        self.map.insert(peer, Session { at_mode, last: now });
    }

    /// The peer sent the assist password.
    pub(crate) fn discovered(&mut self, peer: SocketAddr, now: Instant) {
        self.put(peer, false, now);
    }

    /// The peer sent `+ok`.
    pub(crate) fn ack(&mut self, peer: SocketAddr, now: Instant) {
        match self.mode {
            AssistMode::Lenient => self.put(peer, true, now),
            AssistMode::Strict => {
                if self.live(&peer, now).is_some() {
                    self.put(peer, true, now);
                }
            }
        }
    }

    /// Whether an AT command from the peer is answered (and refreshes its session).
    pub(crate) fn allows_at(&mut self, peer: SocketAddr, now: Instant) -> bool {
        let allowed = match self.mode {
            AssistMode::Lenient => true,
            AssistMode::Strict => self.live(&peer, now).is_some_and(|s| s.at_mode),
        };
        if allowed {
            self.put(peer, true, now);
        }
        allowed
    }

    /// Whether the peer is in AT mode now.
    pub(crate) fn in_at_mode(&self, peer: &SocketAddr, now: Instant) -> bool {
        self.live(peer, now).is_some_and(|s| s.at_mode)
    }

    /// `AT+Q`.
    pub(crate) fn end(&mut self, peer: &SocketAddr) {
        self.map.remove(peer);
    }

    /// Reboot: every session ends.
    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn strict_needs_password_then_ok_within_timeout() {
        let t0 = Instant::now();
        let mut s = Sessions::new(AssistMode::Strict, Duration::from_secs(30));
        assert!(!s.allows_at(peer(1), t0));
        s.ack(peer(1), t0);
        assert!(!s.allows_at(peer(1), t0), "+ok without password");
        s.discovered(peer(1), t0);
        assert!(!s.allows_at(peer(1), t0));
        s.ack(peer(1), t0);
        assert!(s.allows_at(peer(1), t0));
        assert!(!s.allows_at(peer(2), t0), "per peer");
        assert!(!s.allows_at(peer(1), t0 + Duration::from_secs(31)));
        s.discovered(peer(1), t0);
        s.ack(peer(1), t0);
        s.end(&peer(1));
        assert!(!s.allows_at(peer(1), t0));
    }

    #[test]
    fn lenient_always_answers_and_stays_bounded() {
        let t0 = Instant::now();
        let mut s = Sessions::new(AssistMode::Lenient, Duration::from_secs(30));
        assert!(s.allows_at(peer(1), t0));
        assert!(s.in_at_mode(&peer(1), t0));
        for p in 0..1000 {
            s.discovered(peer(p), t0 + Duration::from_millis(u64::from(p)));
        }
        assert!(s.map.len() <= MAX_SESSIONS);
        s.clear();
        assert!(!s.in_at_mode(&peer(1), t0));
    }
}
