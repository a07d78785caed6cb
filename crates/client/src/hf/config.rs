//! Settings of an [`HfDevice`](super::HfDevice) and of the Wi-Fi set-up calls.

use std::time::Duration;

use plugctl_proto::hf::{Outlet, Timestamp, CONTROL_PORT, DEFAULT_ASSIST_PASSWORD, UDP_PORT};

use crate::kasa::ClientConfig;

/// Largest control reply accepted by default, in bytes. Real replies are a few dozen bytes;
/// clients read them with `recv(512)` (hf-protocol.md §1.2).
pub const DEFAULT_MAX_REPLY: usize = 1024;

/// How the HF client talks to a plug: ports, timeouts, retries, back-off, the reply cap and
/// the assist password.
///
/// Timeouts, retries and back-off mean what they mean for Kasa ([`ClientConfig`], from which
/// [`HfConfig::from_client`] copies them): `timeout` bounds connecting and each exchange
/// separately; failures that may pass are retried `retries` times with doubling back-off;
/// refusals, `+ERROR` and caller mistakes never are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfConfig {
    /// TCP port of the control channel. Default 8899.
    pub control_port: u16,
    /// UDP port the plug listens on for `YZ-RECOSCAN` and the assist protocol. Default 48899.
    pub udp_port: u16,
    /// The fixed local UDP port some plugs send `YZ-RECOSCAN` replies to, whatever port the
    /// request came from (hf-protocol.md §3.1). Default 48899; tests use a free port.
    pub reply_port: u16,
    /// Whether [`HfDevice::state`](super::HfDevice::state) also listens on `0.0.0.0:<reply_port>`
    /// (shared with other handles in the process, `SO_REUSEADDR`; skipped silently when the
    /// port cannot be bound). Default `true`.
    pub listen_reply_port: bool,
    /// Timeout for connecting, and separately for each command + reply exchange (TCP) or
    /// each request + reply (UDP). Default 5 s.
    pub timeout: Duration,
    /// How many times a failed attempt is retried (up to `retries + 1` attempts). Default 3.
    pub retries: u32,
    /// Pause before the first retry, doubled for each further one. Default 250 ms.
    pub backoff: Duration,
    /// Upper bound of the back-off pause. Default 2 s.
    pub max_backoff: Duration,
    /// How long a reply that has arrived without a line ending may stay silent before it is
    /// taken as complete (the plug sends replies with or without `\r\n`); also the pause after
    /// the assist `+ok` and the silence that ends a multi-datagram `AT+WSCAN` reply.
    /// Default 100 ms.
    pub quiet: Duration,
    /// Largest control reply accepted, in bytes. Default [`DEFAULT_MAX_REPLY`].
    pub max_reply: usize,
    /// The outlet commands address. Default 1 (the only outlet of the SP-2).
    pub outlet: Outlet,
    /// The timestamp sent with `AT+YZSWITCH` / `AT+YZDELAY`. `None` (default): the current
    /// local time as 12 digits `YYYYMMDDHHMM`; `Some`: this fixed value (tests, or mimicking
    /// apps that send a constant).
    pub timestamp: Option<Timestamp>,
    /// The Hi-Flying assist password for Wi-Fi set-up. Default `HF-A11ASSISTHREAD`.
    pub assist_password: String,
}

impl Default for HfConfig {
    fn default() -> Self {
        let kasa = ClientConfig::default();
        Self {
            control_port: CONTROL_PORT,
            udp_port: UDP_PORT,
            reply_port: UDP_PORT,
            listen_reply_port: true,
            timeout: kasa.timeout,
            retries: kasa.retries,
            backoff: kasa.backoff,
            max_backoff: kasa.max_backoff,
            quiet: Duration::from_millis(100),
            max_reply: DEFAULT_MAX_REPLY,
            outlet: Outlet::FIRST,
            timestamp: None,
            assist_password: DEFAULT_ASSIST_PASSWORD.to_string(),
        }
    }
}

impl HfConfig {
    /// The defaults, with timeout, retries and back-off taken from a Kasa [`ClientConfig`]
    /// (so one set of command-line flags can drive both families).
    pub fn from_client(client: &ClientConfig) -> Self {
        Self {
            timeout: client.timeout,
            retries: client.retries,
            backoff: client.backoff,
            max_backoff: client.max_backoff,
            ..Self::default()
        }
    }

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
    fn defaults_and_backoff() {
        let c = HfConfig::default();
        assert_eq!((c.control_port, c.udp_port, c.reply_port), (8899, 48899, 48899));
        assert_eq!(c.assist_password, "HF-A11ASSISTHREAD");
        assert_eq!(c.backoff_for(0), Duration::from_millis(250));
        assert_eq!(c.backoff_for(1), Duration::from_millis(500));
        assert_eq!(c.backoff_for(9), Duration::from_secs(2));
        let k = ClientConfig { timeout: Duration::from_secs(1), retries: 7, ..ClientConfig::default() };
        let h = HfConfig::from_client(&k);
        assert_eq!((h.timeout, h.retries, h.control_port), (Duration::from_secs(1), 7, 8899));
    }
}
