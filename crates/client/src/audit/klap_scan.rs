//! Finding plugs on newer (KLAP/AES) firmware by the newer discovery protocol on UDP 20002
//! (kasa-protocol.md §6): they no longer answer the legacy discovery on 9999, so an audit
//! that only broadcast there would miss exactly the plugs that have lost local control.

use std::{
    collections::HashSet,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use plugctl_proto::kasa::DEFAULT_PORT;
use tokio::{
    net::UdpSocket,
    time::{timeout_at, Instant},
};

use super::{kasa::klap_finding, PlugAudit, PlugRef};
use crate::{
    error::{Error, Op, Result},
    kasa::klap::{discovery_query, parse_discovery_reply, KlapEvidence},
    Family,
};

/// Largest discovery reply accepted, in bytes.
const MAX_DATAGRAM: usize = 16 * 1024;

/// A plug that answered the newer discovery with KLAP or AES.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KlapFound {
    /// Its address.
    pub ip: IpAddr,
    /// What it said.
    pub evidence: KlapEvidence,
}

/// Sends the newer discovery probe to `target` (broadcast or unicast; twice, the second
/// half-way) and collects the KLAP/AES answers for `listen`, one per address.
pub async fn discover(target: SocketAddr, listen: Duration) -> Result<Vec<KlapFound>> {
    let local: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock =
        UdpSocket::bind(local).await.map_err(|error| Error::Io { addr: target, op: Op::Bind, error })?;
    if target.is_ipv4() {
        sock.set_broadcast(true).map_err(|error| Error::Io { addr: target, op: Op::Bind, error })?;
    }
    let query = discovery_query(u32::from(std::process::id() as u16) << 8 | 0x5A);
    sock.send_to(&query, target).await.map_err(|error| Error::Io { addr: target, op: Op::Send, error })?;
    let start = Instant::now();
    let deadline = start + listen;
    let mut resend = Some(start + listen / 2);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let until = resend.map_or(deadline, |r| r.min(deadline));
        match timeout_at(until, sock.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) => {
                let Some((encrypt_type, model)) = buf.get(..n).and_then(parse_discovery_reply) else {
                    continue;
                };
                if seen.insert(from.ip()) {
                    let evidence = KlapEvidence::Discovery { port: from.port(), encrypt_type, model };
                    out.push(KlapFound { ip: from.ip(), evidence });
                }
            }
            // ICMP errors from earlier datagrams and the like: keep listening.
            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(_) if Instant::now() >= deadline => break,
            Err(_) => {
                resend = None;
                let _ = sock.send_to(&query, target).await;
            }
        }
    }
    Ok(out)
}

/// The audit of a plug found this way (its legacy port is `legacy_port`).
pub fn audit(found: &KlapFound, legacy_port: u16) -> PlugAudit {
    let model = match &found.evidence {
        KlapEvidence::Discovery { model, .. } => model.clone(),
        KlapEvidence::Handshake { .. } => None,
    };
    let plug = PlugRef {
        host: found.ip.to_string(),
        port: if legacy_port == 0 { DEFAULT_PORT } else { legacy_port },
        family: Some(Family::Kasa),
        model,
        alias: None,
    };
    let findings = vec![klap_finding(&plug, &found.evidence)];
    PlugAudit { plug, findings }
}
