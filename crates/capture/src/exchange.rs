//! The output model: request/reply [`Exchange`]s, which ports mean which protocol
//! ([`Ports`]), and how UDP datagrams are paired.

use std::{
    collections::{HashMap, VecDeque},
    fmt,
    net::{IpAddr, SocketAddr},
};

use serde::Serialize;

use crate::{message::Message, time::Timestamp};

/// Which protocol an exchange is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// Kasa JSON in length-prefixed frames on TCP (port 9999).
    KasaTcp,
    /// Kasa JSON in datagrams on UDP (port 9999, discovery).
    KasaUdp,
    /// Hi-Flying AT lines on the TCP control port (8899).
    HfTcp,
    /// Hi-Flying datagrams on UDP 48899 (discovery and assist).
    HfUdp,
}

impl Transport {
    /// The tag printed for it: `kasa-tcp`, `kasa-udp`, `hf-tcp`, `hf-udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::KasaTcp => "kasa-tcp",
            Transport::KasaUdp => "kasa-udp",
            Transport::HfTcp => "hf-tcp",
            Transport::HfUdp => "hf-udp",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request and its reply, as seen in the capture. Either may be missing (a request the
/// device did not answer within the capture, a reply whose request was not captured).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exchange {
    /// When the exchange started: the request's time, or the reply's if there is no request.
    pub time: Timestamp,
    /// The side that asked.
    pub client: SocketAddr,
    /// The side that answered (for an unanswered broadcast: the broadcast address).
    pub server: SocketAddr,
    /// The protocol.
    pub transport: Transport,
    /// The request, if captured.
    pub request: Option<Message>,
    /// The reply, if captured.
    pub reply: Option<Message>,
}

impl Exchange {
    /// Seconds from the request to the reply, when both are there.
    pub fn latency(&self) -> Option<f64> {
        Some(self.reply.as_ref()?.time.seconds_since(self.request.as_ref()?.time))
    }

    /// Packet number of the first message.
    pub fn first_packet(&self) -> u64 {
        match (&self.request, &self.reply) {
            (Some(r), _) | (None, Some(r)) => r.packet,
            (None, None) => 0,
        }
    }

    pub(crate) fn new(
        transport: Transport,
        client: SocketAddr,
        server: SocketAddr,
        request: Option<Message>,
        reply: Option<Message>,
    ) -> Self {
        let time = request.as_ref().or(reply.as_ref()).map_or(Timestamp::EPOCH, |m| m.time);
        Exchange { time, client, server, transport, request, reply }
    }
}

/// Which ports carry which protocol. A port listed for Kasa wins over the same port listed
/// for Hi-Flying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports {
    /// Kasa, TCP and UDP (default 9999).
    pub kasa: Vec<u16>,
    /// Hi-Flying control, TCP (default 8899).
    pub hf_control: Vec<u16>,
    /// Hi-Flying discovery and assist, UDP (default 48899).
    pub hf_udp: Vec<u16>,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            kasa: vec![plugctl_proto::kasa::DEFAULT_PORT],
            hf_control: vec![plugctl_proto::hf::CONTROL_PORT],
            hf_udp: vec![plugctl_proto::hf::UDP_PORT],
        }
    }
}

impl Ports {
    /// The protocol of a TCP segment from `src` to `dst`, and which side serves.
    pub fn classify_tcp(&self, src: SocketAddr, dst: SocketAddr) -> Option<(Transport, SocketAddr)> {
        [(&self.kasa, Transport::KasaTcp), (&self.hf_control, Transport::HfTcp)].into_iter().find_map(
            |(set, t)| {
                if set.contains(&dst.port()) {
                    Some((t, dst))
                } else if set.contains(&src.port()) {
                    Some((t, src))
                } else {
                    None
                }
            },
        )
    }

    /// The protocol of a UDP datagram from `src` to `dst`, and whether it is a request
    /// (sent to the service port) rather than a reply (sent from it).
    pub fn classify_udp(&self, src: SocketAddr, dst: SocketAddr) -> Option<(Transport, bool)> {
        [(&self.kasa, Transport::KasaUdp), (&self.hf_udp, Transport::HfUdp)].into_iter().find_map(
            |(set, t)| {
                if set.contains(&dst.port()) {
                    Some((t, true))
                } else if set.contains(&src.port()) {
                    Some((t, false))
                } else {
                    None
                }
            },
        )
    }
}

/// Whether a destination reaches many hosts: IPv4 broadcast (limited, or any `x.y.z.255`),
/// IPv4 or IPv6 multicast.
fn is_broadcast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_broadcast() || v4.is_multicast() || v4.octets()[3] == 255,
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

/// A UDP request waiting for replies.
#[derive(Debug, Clone)]
struct Pending {
    exchange: usize,
    dst: SocketAddr,
    broadcast: bool,
    answered: bool,
    /// Who answered (a broadcast takes one answer per device).
    responders: Vec<SocketAddr>,
}

/// Pairs UDP requests and replies as the datagrams come, in capture order.
///
/// A reply from S to C pairs with, in this order: the earliest unanswered request C sent to
/// S; the latest request C broadcast to S's port that S has not answered yet (every device
/// answering a broadcast gets its own exchange). Otherwise it stands alone.
#[derive(Debug, Default)]
pub(crate) struct UdpPairer {
    exchanges: Vec<Exchange>,
    /// Requests by (protocol, client).
    pending: HashMap<(Transport, SocketAddr), VecDeque<Pending>>,
}

impl UdpPairer {
    /// A request from `client` to `dst`. `expects_reply` is false for messages that never get
    /// one (Hi-Flying `+ok`).
    pub(crate) fn request(
        &mut self,
        t: Transport,
        client: SocketAddr,
        dst: SocketAddr,
        m: Message,
        expects_reply: bool,
    ) {
        self.exchanges.push(Exchange::new(t, client, dst, Some(m), None));
        if expects_reply {
            let p = Pending {
                exchange: self.exchanges.len() - 1,
                dst,
                broadcast: is_broadcast(dst.ip()),
                answered: false,
                responders: Vec::new(),
            };
            self.pending.entry((t, client)).or_default().push_back(p);
        }
    }

    /// A reply from `server` to `client`.
    pub(crate) fn reply(&mut self, t: Transport, server: SocketAddr, client: SocketAddr, m: Message) {
        let Some(queue) = self.pending.get_mut(&(t, client)) else {
            self.exchanges.push(Exchange::new(t, client, server, None, Some(m)));
            return;
        };
        let unicast = queue.iter().position(|p| !p.broadcast && !p.answered && p.dst == server);
        let broadcast = || {
            queue.iter().rposition(|p| {
                p.broadcast && p.dst.port() == server.port() && !p.responders.contains(&server)
            })
        };
        let Some(i) = unicast.or_else(broadcast) else {
            self.exchanges.push(Exchange::new(t, client, server, None, Some(m)));
            return;
        };
        let p = &mut queue[i];
        let first_answer = !p.answered;
        p.answered = true;
        let idx = p.exchange;
        if p.broadcast {
            p.responders.push(server);
        } else {
            queue.remove(i);
        }
        if first_answer {
            let e = &mut self.exchanges[idx];
            e.server = server;
            e.reply = Some(m);
        } else {
            let request = self.exchanges[idx].request.clone();
            self.exchanges.push(Exchange::new(t, client, server, request, Some(m)));
        }
    }

    pub(crate) fn finish(self) -> Vec<Exchange> {
        self.exchanges
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Content;

    fn msg(packet: u64, text: &str) -> Message {
        Message {
            packet,
            time: Timestamp::new(packet as i64, 0),
            content: Content::Text(text.into()),
            raw: vec![],
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ports_decide_protocol_and_direction() {
        let p = Ports::default();
        let (c, k, h) = (addr("127.0.0.1:40000"), addr("127.0.0.2:9999"), addr("127.0.0.3:8899"));
        assert_eq!(p.classify_tcp(c, k), Some((Transport::KasaTcp, k)));
        assert_eq!(p.classify_tcp(k, c), Some((Transport::KasaTcp, k)));
        assert_eq!(p.classify_tcp(h, c), Some((Transport::HfTcp, h)));
        assert_eq!(p.classify_tcp(c, addr("127.0.0.1:80")), None);
        assert_eq!(p.classify_udp(c, addr("127.255.255.255:48899")), Some((Transport::HfUdp, true)));
        assert_eq!(p.classify_udp(k, c), Some((Transport::KasaUdp, false)));
        let custom = Ports { kasa: vec![8899], ..Ports::default() };
        assert_eq!(custom.classify_tcp(c, h), Some((Transport::KasaTcp, h)));
    }

    #[test]
    fn udp_unicast_broadcast_and_unpaired() {
        let t = Transport::KasaUdp;
        let c = addr("127.0.0.1:40000");
        let (d2, d3) = (addr("127.0.0.2:9999"), addr("127.0.0.3:9999"));
        let mut u = UdpPairer::default();
        u.request(t, c, addr("127.255.255.255:9999"), msg(1, "discover"), true);
        u.reply(t, d2, c, msg(2, "from 2"));
        u.reply(t, d3, c, msg(3, "from 3"));
        u.request(t, c, d2, msg(4, "q1"), true);
        u.request(t, c, d2, msg(5, "q2"), true);
        u.reply(t, d2, c, msg(6, "a1"));
        u.reply(t, d2, c, msg(7, "a2"));
        u.reply(t, d2, addr("127.0.0.9:1"), msg(8, "stray"));
        u.request(t, c, d3, msg(9, "unanswered"), true);
        let ex = u.finish();
        let view: Vec<(u64, Option<u64>, SocketAddr)> =
            ex.iter().map(|e| (e.first_packet(), e.reply.as_ref().map(|r| r.packet), e.server)).collect();
        assert_eq!(
            view,
            vec![
                (1, Some(2), d2),
                (1, Some(3), d3),
                (4, Some(6), d2),
                (5, Some(7), d2),
                (8, Some(8), d2),
                (9, None, d3),
            ]
        );
        assert_eq!(ex[1].request.as_ref().map(|r| r.packet), Some(1));
        assert!(ex[4].request.is_none());
        assert_eq!(ex[2].latency(), Some(2.0));
    }

    #[test]
    fn broadcast_detection() {
        for ip in ["255.255.255.255", "127.255.255.255", "192.0.2.255", "224.0.0.1", "ff02::1"] {
            assert!(is_broadcast(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "192.0.2.10", "::1"] {
            assert!(!is_broadcast(ip.parse().unwrap()), "{ip}");
        }
    }
}
