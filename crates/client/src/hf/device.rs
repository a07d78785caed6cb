//! [`HfDevice`]: a handle on one Hi-Flying HF-LPB100 plug (Maginon SP-2, Reco4life).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use plugctl_proto::hf::{
    assist::HfError, command::Command, mac::Mac, reply::parse_detailed, DelayMinutes, Measurement,
    MeasurementError, RecoScanError, RecoScanReply, Reply, Timestamp, MAX_DATAGRAM, MAX_LINE, RECOSCAN,
};
use serde::Serialize;
use tokio::{net::UdpSocket, time::timeout_at};
use tracing::{debug, trace};

use super::{
    clock,
    config::HfConfig,
    connection::Connection,
    failure::HfFailure,
    udp::{any_addr_for, recv_optional, tokio_udp, ReplyPort},
};
use crate::error::{Error, Op, Result};
use crate::net::deadline_after;
use crate::stats::ConnectionStats;

/// The plug's state as its `YZ-RECOSCAN` reply reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct HfState {
    /// Whether the relay is on (field 5).
    pub relay_on: bool,
    /// The `0`/`1` flag of field 4 (probably the cloud connection).
    pub online: bool,
    /// The station MAC (field 2).
    pub mac: Mac,
    /// The serial number (field 3).
    pub serial: String,
    /// The IP the plug reports (field 1).
    pub ip: Ipv4Addr,
    /// Fields 6 and later, verbatim.
    pub extra: Vec<String>,
}

impl From<RecoScanReply> for HfState {
    fn from(r: RecoScanReply) -> Self {
        Self {
            relay_on: r.relay_on,
            online: r.online,
            mac: r.mac,
            serial: r.serial,
            ip: r.ip,
            extra: r.extra,
        }
    }
}

/// Everything [`HfDevice::info`] could learn. At least one of `state` and `measurement` is
/// present; the reason the other is missing is in the matching `*_error`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HfInfo {
    /// The plug's address.
    pub ip: IpAddr,
    /// The TCP control port used.
    pub control_port: u16,
    /// The UDP port used.
    pub udp_port: u16,
    /// The `YZ-RECOSCAN` state, if the plug answered.
    pub state: Option<HfState>,
    /// Why `state` is missing.
    pub state_error: Option<String>,
    /// The `AT+YZOUT` reading, if the plug answered.
    pub measurement: Option<Measurement>,
    /// Why `measurement` is missing.
    pub measurement_error: Option<String>,
}

/// A handle on one Hi-Flying plug.
///
/// Control commands (`AT+YZSWITCH`, `AT+YZOUT`, `AT+YZDELAY`) go over one persistent TCP
/// connection to the control port, opened on first use and re-opened transparently when
/// the plug closes it; a reply is complete at its first line ending, or after
/// [`HfConfig::quiet`] of silence when the plug sends none. The relay state is
/// read with a unicast `YZ-RECOSCAN` to the UDP port. One request is in flight at a time,
/// UDP included; concurrent calls from many tasks queue up (share the handle in an `Arc`).
pub struct HfDevice {
    ip: IpAddr,
    conn: Connection,
}

impl std::fmt::Debug for HfDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfDevice").field("ip", &self.ip).finish_non_exhaustive()
    }
}

impl HfDevice {
    /// A handle on the plug at `ip`. Does no I/O.
    pub fn new(ip: IpAddr, cfg: HfConfig) -> Self {
        let addr = SocketAddr::new(ip, cfg.control_port);
        Self { ip, conn: Connection::new(addr, cfg) }
    }

    /// The plug's IP.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The TCP control address (`ip:8899` by default).
    pub fn control_addr(&self) -> SocketAddr {
        self.conn.addr()
    }

    /// The UDP address (`ip:48899` by default).
    pub fn udp_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.config().udp_port)
    }

    /// The settings in force.
    pub fn config(&self) -> &HfConfig {
        self.conn.config()
    }

    /// Network counters of the control channel.
    pub fn stats(&self) -> ConnectionStats {
        self.conn.stats()
    }

    /// Closes the kept control connection (after the request in flight, if any).
    pub async fn close(&self) {
        self.conn.close().await;
    }

    /// Switches the relay: `AT+YZSWITCH=<outlet>,ON|OFF,<timestamp>`, expecting `+ok`.
    ///
    /// `+ERROR` is [`HfFailure::Rejected`] (inside [`Error::Hf`]); a `+ok` followed by a
    /// second line (the captured `+ok\r\n+error` quirk) counts as success.
    pub async fn set_power(&self, on: bool) -> Result<()> {
        let cmd = Command::Switch { outlet: self.config().outlet, on, timestamp: self.timestamp() };
        self.command(&cmd).await
    }

    /// Reads the relay state, then switches it the other way; returns the new state.
    pub async fn toggle(&self) -> Result<bool> {
        let new = !self.state().await?.relay_on;
        self.set_power(new).await?;
        Ok(new)
    }

    /// Starts a countdown: after `minutes` (1..=2000, checked before anything is sent,
    /// [`HfFailure::InvalidCountdown`] otherwise) the relay is switched to `on`
    /// (`AT+YZDELAY`).
    pub async fn countdown(&self, on: bool, minutes: u32) -> Result<()> {
        let minutes = DelayMinutes::new(minutes)
            .map_err(|e| Error::Hf { addr: self.control_addr(), error: HfFailure::InvalidCountdown(e) })?;
        let cmd = Command::Delay { outlet: self.config().outlet, on, minutes, timestamp: self.timestamp() };
        self.command(&cmd).await
    }

    /// Reads the meter (`AT+YZOUT`): current, voltage, frequency, power, energy.
    pub async fn measure(&self) -> Result<Measurement> {
        let cmd = Command::Measure;
        let shown = cmd.line();
        self.conn
            .request(&cmd.encode(), &shown, |bytes| match decode(bytes, &shown)? {
                Some(v) => Measurement::parse_value(&v).map_err(HfFailure::BadMeasurement),
                None => Err(HfFailure::BadMeasurement(MeasurementError::Unexpected(Reply::Ok))),
            })
            .await
    }

    /// Reads the relay state with a unicast `YZ-RECOSCAN` to the plug's UDP port.
    ///
    /// The reply is accepted at the request's source port or, if
    /// [`HfConfig::listen_reply_port`], at the shared listener on
    /// [`HfConfig::reply_port`] (only datagrams from the plug's IP count there). Each attempt
    /// waits `timeout`; attempts are repeated per `retries` and `backoff`. The last error is
    /// [`Error::Timeout`], or [`HfFailure::BadScanReply`] if the plug answered with something
    /// undecodable; an ICMP "port unreachable" is [`Error::Refused`].
    pub async fn state(&self) -> Result<HfState> {
        let cfg = self.config();
        let addr = self.udp_addr();
        let _busy = self.conn.exclusive().await;
        let socket = tokio_udp(any_addr_for(self.ip, 0), false, false).map_err(|error| Error::Io {
            addr,
            op: Op::Bind,
            error,
        })?;
        socket.connect(addr).await.map_err(|error| send_error(addr, error))?;
        let mut reply_port = if cfg.listen_reply_port { ReplyPort::subscribe(cfg.reply_port) } else { None };
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut retry = 0u32;
        loop {
            let err = match self.scan_once(&socket, &mut reply_port, &mut buf).await {
                Ok(state) => return Ok(state),
                Err(e) => e,
            };
            if !err.is_retryable() || retry >= cfg.retries {
                return Err(err);
            }
            let pause = cfg.backoff_for(retry);
            debug!(%addr, error = %err, retry = retry + 1, ?pause, "retrying YZ-RECOSCAN");
            tokio::time::sleep(pause).await;
            retry += 1;
        }
    }

    /// One `YZ-RECOSCAN` attempt.
    async fn scan_once(
        &self,
        socket: &UdpSocket,
        reply_port: &mut Option<ReplyPort>,
        buf: &mut [u8],
    ) -> Result<HfState> {
        let addr = self.udp_addr();
        let after = self.config().timeout;
        socket.send(RECOSCAN.as_bytes()).await.map_err(|error| send_error(addr, error))?;
        let deadline = deadline_after(after);
        let mut bad: Option<RecoScanError> = None;
        let mut consider = |bytes: &[u8], via: &str| match RecoScanReply::parse(bytes) {
            Ok(r) => Some(HfState::from(r)),
            Err(RecoScanError::IsRequest) => None,
            Err(e) => {
                debug!(%addr, via, error = %e, "undecodable YZ-RECOSCAN reply; ignored");
                bad = Some(e);
                None
            }
        };
        loop {
            tokio::select! {
                r = timeout_at(deadline, socket.recv(buf)) => match r {
                    Err(_) => break,
                    Ok(Ok(n)) => {
                        if let Some(s) = consider(buf.get(..n).unwrap_or_default(), "source port") {
                            return Ok(s);
                        }
                    }
                    Ok(Err(error)) if Error::is_refusal(&error) => return Err(Error::Refused { addr, error }),
                    Ok(Err(error)) => return Err(Error::Io { addr, op: Op::Reply, error }),
                },
                (bytes, from) = recv_optional(reply_port) => {
                    if from.ip() == self.ip {
                        if let Some(s) = consider(&bytes, "reply port") {
                            return Ok(s);
                        }
                    } else {
                        trace!(%from, "datagram from another host on the reply port; ignored");
                    }
                }
            }
        }
        Err(match bad {
            Some(error) => Error::Hf { addr, error: HfFailure::BadScanReply(error) },
            None => Error::Timeout { addr, op: Op::Reply, after },
        })
    }

    /// Reads state and meter. Fails only if both fail (with the control channel's error);
    /// otherwise the missing half carries its error message.
    pub async fn info(&self) -> Result<HfInfo> {
        let state = self.state().await;
        let measurement = self.measure().await;
        let (state, state_error) = split(state);
        let (measurement, measurement_error) = match (measurement, &state) {
            (Err(e), None) => return Err(e),
            (m, _) => split(m),
        };
        Ok(HfInfo {
            ip: self.ip,
            control_port: self.config().control_port,
            udp_port: self.config().udp_port,
            state,
            state_error,
            measurement,
            measurement_error,
        })
    }

    /// Sends one line verbatim on the control channel (`\r\n` appended) and returns the
    /// reply text, trimmed; `+ERROR` is returned as text, not as an error.
    ///
    /// The line must be non-empty, at most 512 bytes, without CR, LF or NUL inside (a
    /// trailing line ending is removed); [`Error::InvalidArgument`] otherwise, nothing sent.
    pub async fn send_raw(&self, line: &str) -> Result<String> {
        let line = line.trim_end_matches(['\r', '\n']);
        let invalid = |reason: String| Error::InvalidArgument { addr: self.control_addr(), reason };
        if line.is_empty() {
            return Err(invalid("empty command".into()));
        }
        if line.contains(['\r', '\n', '\0']) {
            return Err(invalid("the command contains CR, LF or NUL (one command per call)".into()));
        }
        if line.len() > MAX_LINE {
            return Err(invalid(format!(
                "the command is {} bytes, over the {MAX_LINE}-byte limit",
                line.len()
            )));
        }
        self.conn
            .request(&format!("{line}\r\n"), line, |bytes| {
                Ok(String::from_utf8_lossy(bytes)
                    .trim_matches(|c: char| c == '\0' || c.is_ascii_whitespace())
                    .to_string())
            })
            .await
    }

    /// Sends a command that answers `+ok`. A `+ok=<value>` answers another command (a
    /// reading): [`HfFailure::UnexpectedValue`].
    async fn command(&self, cmd: &Command) -> Result<()> {
        let shown = cmd.line();
        self.conn
            .request(&cmd.encode(), &shown, |bytes| match decode(bytes, &shown)? {
                None => Ok(()),
                Some(v) => Err(HfFailure::UnexpectedValue {
                    command: shown.clone(),
                    detail: format!("expected +ok, got +ok={v} (the reply to another command?)"),
                }),
            })
            .await
    }

    fn timestamp(&self) -> Timestamp {
        self.config().timestamp.unwrap_or_else(clock::local_now)
    }
}

/// Decodes a control reply: `+ok` is `None`, `+ok=<v>` is `Some(v)`; `+ERROR` / `+ERR=`
/// become [`HfFailure::Rejected`].
fn decode(bytes: &[u8], shown: &str) -> Result<Option<String>, HfFailure> {
    let parsed =
        parse_detailed(bytes).map_err(|error| HfFailure::BadReply { command: shown.to_string(), error })?;
    if !parsed.extra_lines.is_empty() {
        debug!(command = shown, extra = ?parsed.extra_lines, "extra lines after the reply ignored");
    }
    match parsed.reply {
        Reply::Error => Err(HfFailure::Rejected { command: shown.to_string(), code: None }),
        Reply::Err(code) => {
            Err(HfFailure::Rejected { command: shown.to_string(), code: Some(HfError::from_code(code)) })
        }
        Reply::Ok => Ok(None),
        Reply::OkValue(v) => Ok(Some(v)),
    }
}

fn split<T>(r: Result<T>) -> (Option<T>, Option<String>) {
    match r {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

/// A UDP send error: refusal (ICMP unreachable) or other I/O error.
pub(crate) fn send_error(addr: SocketAddr, error: std::io::Error) -> Error {
    if Error::is_refusal(&error) {
        Error::Refused { addr, error }
    } else {
        Error::Io { addr, op: Op::Send, error }
    }
}
