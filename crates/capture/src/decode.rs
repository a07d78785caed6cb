//! From packets to exchanges: routes each packet by port, reassembles TCP, decodes and
//! pairs messages.

use serde::Serialize;

use crate::{
    exchange::{Exchange, Ports, Transport, UdpPairer},
    file::{CaptureFormat, CaptureReader, RawPacket},
    hf, kasa,
    message::Message,
    packet::{self, Packet, Skip},
    tcp::{ReassemblyStats, TcpConnection, TcpReassembler},
    CaptureError,
};

/// What was found in a capture besides the exchanges.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Stats {
    /// Packets read.
    pub packets: u64,
    /// Packets on Kasa or Hi-Flying ports.
    pub matched: u64,
    /// TCP or UDP packets on other ports.
    pub other_ports: u64,
    /// Packets that are not TCP or UDP over IP (ARP, ICMP, …).
    pub not_tcp_udp: u64,
    /// IP fragments (not reassembled).
    pub fragments: u64,
    /// Packets whose headers are cut short or invalid.
    pub malformed: u64,
    /// Packets of link types this crate does not read.
    pub unsupported_link: u64,
    /// The unsupported link type numbers seen.
    pub unsupported_link_types: Vec<u32>,
    /// TCP connections on Kasa or Hi-Flying ports.
    pub tcp_connections: u64,
    /// Retransmissions, overlaps and holes in those connections.
    pub reassembly: ReassemblyStats,
}

/// Turns packets into exchanges. Push every packet, then [`finish`](Decoder::finish).
#[derive(Debug, Default)]
pub struct Decoder {
    ports: Ports,
    tcp: TcpReassembler<Transport>,
    udp: UdpPairer,
    stats: Stats,
}

impl Decoder {
    /// A decoder recognising protocols by `ports`.
    pub fn new(ports: Ports) -> Self {
        Decoder { ports, ..Decoder::default() }
    }

    /// Adds one captured packet.
    pub fn push(&mut self, p: &RawPacket<'_>) {
        self.stats.packets += 1;
        match packet::parse(p.link, p.data) {
            Ok(Packet::Tcp(seg)) => match self.ports.classify_tcp(seg.src, seg.dst) {
                Some((t, server)) => {
                    self.stats.matched += 1;
                    self.tcp.push(&seg, p.number, p.time, server, t);
                }
                None => self.stats.other_ports += 1,
            },
            Ok(Packet::Udp(d)) => match self.ports.classify_udp(d.src, d.dst) {
                Some((t, is_request)) => {
                    self.stats.matched += 1;
                    let m = match t {
                        Transport::HfUdp => hf::datagram_message(p.number, p.time, d.payload, d.missing),
                        _ => kasa::datagram_message(p.number, p.time, d.payload, d.missing),
                    };
                    if is_request {
                        let expects_reply = !(t == Transport::HfUdp && hf::expects_no_reply(&m));
                        self.udp.request(t, d.src, d.dst, m, expects_reply);
                    } else {
                        self.udp.reply(t, d.src, d.dst, m);
                    }
                }
                None => self.stats.other_ports += 1,
            },
            Err(Skip::UnsupportedLink(l)) => {
                self.stats.unsupported_link += 1;
                if !self.stats.unsupported_link_types.contains(&l.0) {
                    self.stats.unsupported_link_types.push(l.0);
                }
            }
            Err(Skip::NotIp | Skip::OtherProtocol) => self.stats.not_tcp_udp += 1,
            Err(Skip::Fragment) => self.stats.fragments += 1,
            Err(Skip::Malformed) => self.stats.malformed += 1,
        }
    }

    /// Reassembles, decodes and pairs everything; exchanges come in the order of their
    /// first packet.
    pub fn finish(self) -> (Vec<Exchange>, Stats) {
        let mut stats = self.stats;
        let mut exchanges = self.udp.finish();
        for conn in self.tcp.finish() {
            stats.tcp_connections += 1;
            stats.reassembly.add(&conn.stats);
            let pairs = match conn.tag {
                Transport::HfTcp => hf::tcp_pairs(&conn),
                _ => kasa_pairs(&conn),
            };
            exchanges.extend(
                pairs
                    .into_iter()
                    .map(|(req, rep)| Exchange::new(conn.tag, conn.client, conn.server, req, rep)),
            );
        }
        exchanges.sort_by_key(Exchange::first_packet);
        (exchanges, stats)
    }
}

/// Pairs the frames of a Kasa connection: each reply answers the oldest unanswered request
/// that started before it (one request in flight, or pipelined requests answered in order).
fn kasa_pairs(conn: &TcpConnection<Transport>) -> Vec<(Option<Message>, Option<Message>)> {
    let requests = kasa::stream_messages(&conn.to_server);
    let replies = kasa::stream_messages(&conn.to_client);
    let mut out: Vec<(Option<Message>, Option<Message>)> = Vec::new();
    let mut waiting = std::collections::VecDeque::new();
    let mut requests = requests.into_iter().peekable();
    for reply in replies {
        while let Some(r) = requests.next_if(|r| r.packet <= reply.packet) {
            out.push((Some(r), None));
            waiting.push_back(out.len() - 1);
        }
        match waiting.pop_front() {
            Some(i) => out[i].1 = Some(reply),
            None => out.push((None, Some(reply))),
        }
    }
    out.extend(requests.map(|r| (Some(r), None)));
    out
}

/// Everything decoded from a capture file.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// pcap or pcapng.
    pub format: CaptureFormat,
    /// The exchanges, in the order of their first packet.
    pub exchanges: Vec<Exchange>,
    /// Packet counts and stream quality.
    pub stats: Stats,
    /// Set when reading stopped early (a truncated or damaged file): the exchanges hold
    /// everything before that point.
    pub stopped: Option<CaptureError>,
}

/// Decodes a whole pcap or pcapng capture held in memory. Fails only when the file is not a
/// capture at all; damage later on is reported in [`Decoded::stopped`].
pub fn decode_capture(bytes: &[u8], ports: &Ports) -> Result<Decoded, CaptureError> {
    let mut reader = CaptureReader::new(bytes)?;
    let format = reader.format();
    let mut decoder = Decoder::new(ports.clone());
    let mut stopped = None;
    for item in reader.by_ref() {
        match item {
            Ok(p) => decoder.push(&p),
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
    }
    let (exchanges, stats) = decoder.finish();
    Ok(Decoded { format, exchanges, stats, stopped })
}
