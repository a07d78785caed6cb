//! Writing captures: pcap and pcapng files, and synthesized link/IP/TCP/UDP headers around
//! payloads. Tests use it to turn recorded emulator traffic into capture files; tools can
//! use it to record what they send and receive.
//!
//! Everything builds byte vectors; nothing touches the file system.

use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;

use crate::{packet::LinkType, time::Timestamp};

/// TCP flags of a synthesized segment (ACK is implied by `ack: Some(_)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
    /// PSH.
    pub psh: bool,
}

/// Why a packet could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// Source and destination are of different IP versions.
    #[error("source and destination must both be IPv4 or both IPv6")]
    MixedIpVersions,
    /// The payload does not fit in one IP packet.
    #[error("payload of {0} bytes does not fit in one IP packet")]
    TooLarge(usize),
    /// The link type cannot carry IPv4 and IPv6 here.
    #[error("cannot write link type {0}")]
    UnsupportedLink(u32),
}

fn ip_builder(
    src: SocketAddr,
    dst: SocketAddr,
) -> Result<etherparse::PacketBuilderStep<etherparse::IpHeaders>, WriteError> {
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ok(PacketBuilder::ipv4(s.octets(), d.octets(), 64)),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ok(PacketBuilder::ipv6(s.octets(), d.octets(), 64)),
        _ => Err(WriteError::MixedIpVersions),
    }
}

/// An IP packet carrying one TCP segment. `ack` sets the ACK flag and number.
pub fn tcp_packet(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: Option<u32>,
    flags: TcpFlags,
    payload: &[u8],
) -> Result<Vec<u8>, WriteError> {
    let mut b = ip_builder(src, dst)?.tcp(src.port(), dst.port(), seq, 65_535);
    if let Some(a) = ack {
        b = b.ack(a);
    }
    if flags.syn {
        b = b.syn();
    }
    if flags.fin {
        b = b.fin();
    }
    if flags.rst {
        b = b.rst();
    }
    if flags.psh {
        b = b.psh();
    }
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).map_err(|_| WriteError::TooLarge(payload.len()))?;
    Ok(out)
}

/// An IP packet carrying one UDP datagram.
pub fn udp_packet(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Result<Vec<u8>, WriteError> {
    let b = ip_builder(src, dst)?.udp(src.port(), dst.port());
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).map_err(|_| WriteError::TooLarge(payload.len()))?;
    Ok(out)
}

/// Wraps an IP packet in the header of `link` (Ethernet with made-up MAC addresses, BSD
/// null loopback, Linux cooked v1/v2, or nothing for raw IP).
pub fn link_frame(link: LinkType, ip: &[u8]) -> Result<Vec<u8>, WriteError> {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let ether_type: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    let mut out = Vec::with_capacity(ip.len() + 20);
    match link {
        LinkType::ETHERNET => {
            out.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]);
            out.extend_from_slice(&ether_type);
        }
        LinkType::NULL => out.extend_from_slice(&(if v6 { 30u32 } else { 2u32 }).to_le_bytes()),
        LinkType::LOOP => out.extend_from_slice(&(if v6 { 24u32 } else { 2u32 }).to_be_bytes()),
        LinkType::LINUX_SLL => {
            // packet type "sent by us", ARPHRD_LOOPBACK, 6-byte zero address
            out.extend_from_slice(&[0, 4, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&ether_type);
        }
        LinkType::LINUX_SLL2 => {
            out.extend_from_slice(&ether_type);
            out.extend_from_slice(&[0, 0]); // reserved
            out.extend_from_slice(&1u32.to_be_bytes()); // interface index (lo)
            out.extend_from_slice(&[0x03, 0x04, 4, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
        }
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => {}
        other => return Err(WriteError::UnsupportedLink(other.0)),
    }
    out.extend_from_slice(ip);
    Ok(out)
}

/// Builds the packets of one TCP connection, keeping sequence numbers.
#[derive(Debug, Clone)]
pub struct TcpFlow {
    /// The side that connects.
    pub client: SocketAddr,
    /// The side that accepts.
    pub server: SocketAddr,
    client_next: u32,
    server_next: u32,
}

impl TcpFlow {
    /// A flow with the given initial sequence numbers.
    pub fn new(client: SocketAddr, server: SocketAddr, client_isn: u32, server_isn: u32) -> Self {
        TcpFlow { client, server, client_next: client_isn, server_next: server_isn }
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) -> Result<Vec<Vec<u8>>, WriteError> {
        let syn = TcpFlags { syn: true, ..TcpFlags::default() };
        let (c, s) = (self.client_next, self.server_next);
        let out = vec![
            tcp_packet(self.client, self.server, c, None, syn, &[])?,
            tcp_packet(self.server, self.client, s, Some(c.wrapping_add(1)), syn, &[])?,
            tcp_packet(
                self.client,
                self.server,
                c.wrapping_add(1),
                Some(s.wrapping_add(1)),
                TcpFlags::default(),
                &[],
            )?,
        ];
        self.client_next = c.wrapping_add(1);
        self.server_next = s.wrapping_add(1);
        Ok(out)
    }

    /// `payload` from one side, cut into segments of at most `mss` bytes (in stream order).
    pub fn send(
        &mut self,
        from_client: bool,
        payload: &[u8],
        mss: usize,
    ) -> Result<Vec<Vec<u8>>, WriteError> {
        let mut out = Vec::new();
        for chunk in payload.chunks(mss.max(1)) {
            out.push(self.segment(from_client, chunk)?);
        }
        Ok(out)
    }

    /// One data segment from one side.
    pub fn segment(&mut self, from_client: bool, payload: &[u8]) -> Result<Vec<u8>, WriteError> {
        let psh = TcpFlags { psh: true, ..TcpFlags::default() };
        let (src, dst, seq, ack) = self.ends(from_client);
        let p = tcp_packet(src, dst, seq, Some(ack), psh, payload)?;
        self.advance(from_client, payload.len() as u32);
        Ok(p)
    }

    /// FIN from one side.
    pub fn fin(&mut self, from_client: bool) -> Result<Vec<u8>, WriteError> {
        let fin = TcpFlags { fin: true, ..TcpFlags::default() };
        let (src, dst, seq, ack) = self.ends(from_client);
        let p = tcp_packet(src, dst, seq, Some(ack), fin, &[])?;
        self.advance(from_client, 1);
        Ok(p)
    }

    fn ends(&self, from_client: bool) -> (SocketAddr, SocketAddr, u32, u32) {
        if from_client {
            (self.client, self.server, self.client_next, self.server_next)
        } else {
            (self.server, self.client, self.server_next, self.client_next)
        }
    }

    fn advance(&mut self, from_client: bool, by: u32) {
        let next = if from_client { &mut self.client_next } else { &mut self.server_next };
        *next = next.wrapping_add(by);
    }
}

/// A legacy pcap file (little-endian, microsecond timestamps).
#[derive(Debug, Clone)]
pub struct PcapWriter {
    out: Vec<u8>,
}

impl PcapWriter {
    /// The file header for `link`.
    pub fn new(link: LinkType) -> Self {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        out.extend_from_slice(&262_144u32.to_le_bytes()); // snaplen
        out.extend_from_slice(&link.0.to_le_bytes());
        PcapWriter { out }
    }

    /// Adds a packet captured whole.
    pub fn packet(&mut self, time: Timestamp, data: &[u8]) {
        self.packet_snapped(time, data, data.len());
    }

    /// Adds a packet of which only `data` (the first bytes of `orig_len`) was captured.
    pub fn packet_snapped(&mut self, time: Timestamp, data: &[u8], orig_len: usize) {
        self.out.extend_from_slice(&(time.secs() as u32).to_le_bytes());
        self.out.extend_from_slice(&(time.subsec_nanos() / 1000).to_le_bytes());
        self.out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&(orig_len as u32).to_le_bytes());
        self.out.extend_from_slice(data);
    }

    /// The file.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

/// A pcapng file (little-endian, one section, nanosecond timestamps).
#[derive(Debug, Clone)]
pub struct PcapngWriter {
    out: Vec<u8>,
    interfaces: u32,
}

impl Default for PcapngWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PcapngWriter {
    /// The section header block.
    pub fn new() -> Self {
        let mut body = Vec::new();
        body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes()); // byte-order magic
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
        let mut w = PcapngWriter { out: Vec::new(), interfaces: 0 };
        w.block(0x0a0d_0d0a, &body);
        w
    }

    /// Adds an interface description block; returns the interface id for
    /// [`packet`](Self::packet).
    pub fn interface(&mut self, link: LinkType) -> u32 {
        let mut body = Vec::new();
        body.extend_from_slice(&(link.0 as u16).to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&262_144u32.to_le_bytes()); // snaplen
        body.extend_from_slice(&9u16.to_le_bytes()); // if_tsresol
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&[9, 0, 0, 0]); // 10^-9 s, padded
        body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        self.block(1, &body);
        self.interfaces += 1;
        self.interfaces - 1
    }

    /// Adds an enhanced packet block captured whole.
    pub fn packet(&mut self, interface: u32, time: Timestamp, data: &[u8]) {
        self.packet_snapped(interface, time, data, data.len());
    }

    /// Adds an enhanced packet block of which only `data` (of `orig_len`) was captured.
    pub fn packet_snapped(&mut self, interface: u32, time: Timestamp, data: &[u8], orig_len: usize) {
        let ns = u64::try_from(time.as_nanos()).unwrap_or(0);
        let mut body = Vec::with_capacity(data.len() + 24);
        body.extend_from_slice(&interface.to_le_bytes());
        body.extend_from_slice(&((ns >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ns as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(orig_len as u32).to_le_bytes());
        body.extend_from_slice(data);
        body.resize(body.len().next_multiple_of(4), 0);
        self.block(6, &body);
    }

    fn block(&mut self, kind: u32, body: &[u8]) {
        let total = (body.len() + 12) as u32;
        self.out.extend_from_slice(&kind.to_le_bytes());
        self.out.extend_from_slice(&total.to_le_bytes());
        self.out.extend_from_slice(body);
        self.out.extend_from_slice(&total.to_le_bytes());
    }

    /// The file.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{file::CaptureReader, packet};

    #[test]
    fn written_files_read_back() {
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "127.0.0.2:9999".parse().unwrap();
        let ip = tcp_packet(a, b, 7, Some(9), TcpFlags { psh: true, ..TcpFlags::default() }, b"hi").unwrap();
        let t = Timestamp::new(1_714_564_800, 123_456_000);
        for link in [
            LinkType::ETHERNET,
            LinkType::NULL,
            LinkType::LOOP,
            LinkType::LINUX_SLL,
            LinkType::LINUX_SLL2,
            LinkType::RAW,
        ] {
            let packet = link_frame(link, &ip).unwrap();
            let mut p = PcapWriter::new(link);
            p.packet(t, &packet);
            let mut n = PcapngWriter::new();
            let i = n.interface(link);
            n.packet(i, t, &packet);
            for file in [p.into_bytes(), n.into_bytes()] {
                let pkts: Vec<_> = CaptureReader::new(&file).unwrap().collect::<Result<_, _>>().unwrap();
                assert_eq!(pkts.len(), 1);
                assert_eq!((pkts[0].time, pkts[0].link, pkts[0].data), (t, link, &packet[..]));
                let Ok(packet::Packet::Tcp(seg)) = packet::parse(link, pkts[0].data) else {
                    panic!("{link:?}")
                };
                assert_eq!((seg.src, seg.dst, seg.seq, seg.payload), (a, b, 7, &b"hi"[..]));
            }
        }
        assert_eq!(link_frame(LinkType(147), &ip), Err(WriteError::UnsupportedLink(147)));
        assert_eq!(udp_packet(a, "[::1]:1".parse().unwrap(), b""), Err(WriteError::MixedIpVersions));
    }
}
