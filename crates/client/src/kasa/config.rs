//! Connection settings of a [`KasaDevice`](super::KasaDevice).

use std::time::Duration;

use plugctl_proto::kasa::DEFAULT_MAX_FRAME;

/// How a [`KasaDevice`](super::KasaDevice) talks to its plug: timeouts, retries, back-off
/// and the reply size cap. The defaults follow python-kasa (kasa-protocol.md §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Timeout applied separately to connecting and to each send + receive exchange.
    /// Default 5 s.
    pub timeout: Duration,
    /// How many times a failed attempt is retried (so up to `retries + 1` attempts).
    /// Default 3. Refusals and device error codes are never retried.
    pub retries: u32,
    /// Pause before the first retry; doubled for each further retry, up to
    /// [`max_backoff`](Self::max_backoff). Default 250 ms.
    pub backoff: Duration,
    /// Upper bound of the back-off pause. Default 2 s.
    pub max_backoff: Duration,
    /// Largest reply (and request) payload accepted, in bytes; a reply header announcing
    /// more fails at once without allocating. Default 64 KiB.
    pub max_frame: usize,
    /// When set, a refused or silently closed port 9999 is checked for the signs of newer
    /// KLAP/AES firmware, and reported as [`Error::NewerFirmware`](crate::Error::NewerFirmware)
    /// if they show ([`super::klap`]). Default `None` (no extra probes).
    pub klap: Option<super::klap::KlapProbe>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            retries: 3,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
            max_frame: DEFAULT_MAX_FRAME,
            klap: None,
        }
    }
}

impl ClientConfig {
    /// The pause before retry number `retry` (0-based): `backoff · 2^retry`, capped at
    /// `max_backoff`.
    pub fn backoff_for(&self, retry: u32) -> Duration {
        crate::stats::backoff(self.backoff, self.max_backoff, retry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let c = ClientConfig::default();
        assert_eq!(c.backoff_for(0), Duration::from_millis(250));
        assert_eq!(c.backoff_for(1), Duration::from_millis(500));
        assert_eq!(c.backoff_for(2), Duration::from_secs(1));
        assert_eq!(c.backoff_for(3), Duration::from_secs(2));
        assert_eq!(c.backoff_for(40), Duration::from_secs(2));
        let c = ClientConfig { backoff: Duration::from_secs(u64::MAX / 2), ..c };
        assert_eq!(c.backoff_for(5), Duration::from_secs(2));
    }
}
