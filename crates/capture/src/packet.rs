//! From link-layer bytes to TCP segments and UDP datagrams, with the `etherparse` crate.
//!
//! Link types: Ethernet (with VLAN tags), Linux cooked capture v1 and v2 (`tcpdump -i any`),
//! raw IPv4/IPv6, and BSD loopback/null (`lo0` on macOS and the BSDs). Packets that cut
//! short (a small snap length) keep what was captured and say how much is missing.
//! Checksums are not verified: captures taken on the sending host usually carry checksums
//! the NIC would have filled in.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

/// A capture's link-layer header type (the tcpdump.org `LINKTYPE_*` number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II (and 802.1Q VLAN tags).
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (IPv4 or IPv6, told apart by the version field).
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1 (16-byte header).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2 (20-byte header).
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// Raw IP as some BSDs number it.
    const RAW_BSD_12: LinkType = LinkType(12);
    /// Raw IP as OpenBSD numbers it.
    const RAW_BSD_14: LinkType = LinkType(14);

    /// Whether [`parse`] understands this link type.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Self::NULL
                | Self::ETHERNET
                | Self::RAW
                | Self::LOOP
                | Self::LINUX_SLL
                | Self::IPV4
                | Self::IPV6
                | Self::LINUX_SLL2
                | Self::RAW_BSD_12
                | Self::RAW_BSD_14
        )
    }
}

/// The transport-layer content of a captured packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// A TCP segment.
    Tcp(TcpSegment<'a>),
    /// A UDP datagram.
    Udp(UdpDatagram<'a>),
}

/// A TCP segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Sequence number of the first payload byte (of the SYN, if set).
    pub seq: u32,
    /// SYN flag.
    pub syn: bool,
    /// ACK flag.
    pub ack: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// The captured payload.
    pub payload: &'a [u8],
    /// Payload bytes the IP header announces but the capture does not hold (snap length).
    pub missing: u32,
}

/// A UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// The captured payload.
    pub payload: &'a [u8],
    /// Payload bytes the UDP header announces but the capture does not hold.
    pub missing: u32,
}

/// Why a packet carries no TCP segment or UDP datagram we can use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// The link type is not one [`parse`] reads.
    UnsupportedLink(LinkType),
    /// Not IPv4/IPv6 (ARP, LLDP, …).
    NotIp,
    /// An IP fragment (Kasa and Hi-Flying messages fit in one packet; fragments are not
    /// reassembled).
    Fragment,
    /// IP, but neither TCP nor UDP (ICMP, …).
    OtherProtocol,
    /// Headers cut short or invalid.
    Malformed,
}

/// Reads the TCP or UDP content of one captured packet.
pub fn parse(link: LinkType, data: &[u8]) -> Result<Packet<'_>, Skip> {
    let sliced = match link {
        LinkType::ETHERNET => LaxSlicedPacket::from_ethernet(data).map_err(|_| Skip::Malformed)?,
        LinkType::NULL | LinkType::LOOP => {
            LaxSlicedPacket::from_ip(data.get(4..).ok_or(Skip::Malformed)?).map_err(|_| Skip::NotIp)?
        }
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 | LinkType::RAW_BSD_12 | LinkType::RAW_BSD_14 => {
            LaxSlicedPacket::from_ip(data).map_err(|_| Skip::NotIp)?
        }
        LinkType::LINUX_SLL => {
            let proto = data.get(14..16).ok_or(Skip::Malformed)?;
            let rest = data.get(16..).ok_or(Skip::Malformed)?;
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([proto[0], proto[1]])), rest)
        }
        LinkType::LINUX_SLL2 => {
            let proto = data.get(0..2).ok_or(Skip::Malformed)?;
            let rest = data.get(20..).ok_or(Skip::Malformed)?;
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([proto[0], proto[1]])), rest)
        }
        other => return Err(Skip::UnsupportedLink(other)),
    };
    let (src_ip, dst_ip, ip_missing, fragmented) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let missing = missing_bytes(data, h.slice(), usize::from(h.total_len()), v4.payload().incomplete);
            (IpAddr::V4(h.source_addr()), IpAddr::V4(h.destination_addr()), missing, v4.payload().fragmented)
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let declared = 40 + usize::from(h.payload_length());
            let missing = missing_bytes(data, h.slice(), declared, v6.payload().incomplete);
            (IpAddr::V6(h.source_addr()), IpAddr::V6(h.destination_addr()), missing, v6.payload().fragmented)
        }
        Some(LaxNetSlice::Arp(_)) | None => return Err(Skip::NotIp),
    };
    if fragmented {
        return Err(Skip::Fragment);
    }
    match sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => Ok(Packet::Tcp(TcpSegment {
            src: SocketAddr::new(src_ip, tcp.source_port()),
            dst: SocketAddr::new(dst_ip, tcp.destination_port()),
            seq: tcp.sequence_number(),
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            payload: tcp.payload(),
            missing: ip_missing,
        })),
        Some(TransportSlice::Udp(udp)) => {
            let payload = udp.payload();
            let announced = usize::from(udp.length()).saturating_sub(8);
            let missing = u32::try_from(announced.saturating_sub(payload.len())).unwrap_or(u32::MAX);
            Ok(Packet::Udp(UdpDatagram {
                src: SocketAddr::new(src_ip, udp.source_port()),
                dst: SocketAddr::new(dst_ip, udp.destination_port()),
                payload,
                missing: missing.max(ip_missing),
            }))
        }
        Some(_) => Err(Skip::OtherProtocol),
        None if sliced.stop_err.is_some() => Err(Skip::Malformed),
        None => Err(Skip::OtherProtocol),
    }
}

/// Bytes of an IP packet the capture does not hold: `declared` (the IP packet's announced
/// total length) minus what the capture has from the IP header on.
fn missing_bytes(data: &[u8], ip_header: &[u8], declared: usize, incomplete: bool) -> u32 {
    if !incomplete {
        return 0;
    }
    // The header slice points into `data`: its distance from the start is the link header.
    let start = (ip_header.as_ptr() as usize).saturating_sub(data.as_ptr() as usize);
    let captured = data.len().saturating_sub(start);
    u32::try_from(declared.saturating_sub(captured)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_ipv4(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 2], 64)
            .tcp(40000, 9999, 1000, 65535)
            .ack(1)
            .psh()
            .write(&mut out, payload)
            .unwrap();
        out
    }

    #[test]
    fn every_link_type_reaches_tcp() {
        let ip = tcp_ipv4(b"hello");
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend(&ip);
        let mut lo = 2u32.to_be_bytes().to_vec();
        lo.extend(&ip);
        let mut eth = vec![0u8; 12];
        eth.extend([0x08, 0x00]);
        eth.extend(&ip);
        let mut sll = vec![0u8; 14];
        sll.extend([0x08, 0x00]);
        sll.extend(&ip);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend([0u8; 18]);
        sll2.extend(&ip);
        for (link, data) in [
            (LinkType::NULL, &null),
            (LinkType::LOOP, &lo),
            (LinkType::ETHERNET, &eth),
            (LinkType::LINUX_SLL, &sll),
            (LinkType::LINUX_SLL2, &sll2),
            (LinkType::RAW, &ip),
            (LinkType::IPV4, &ip),
        ] {
            assert!(link.is_supported());
            let Ok(Packet::Tcp(seg)) = parse(link, data) else { panic!("{link:?}: {:?}", parse(link, data)) };
            assert_eq!(seg.payload, b"hello", "{link:?}");
            assert_eq!(seg.src, "127.0.0.1:40000".parse().unwrap());
            assert_eq!(seg.dst, "127.0.0.2:9999".parse().unwrap());
            assert_eq!((seg.seq, seg.syn, seg.ack, seg.fin, seg.missing), (1000, false, true, false, 0));
        }
        assert_eq!(parse(LinkType(147), &ip), Err(Skip::UnsupportedLink(LinkType(147))));
        assert!(!LinkType(147).is_supported());
    }

    #[test]
    fn snapped_packets_say_what_is_missing() {
        let ip = tcp_ipv4(&[7u8; 100]);
        let Ok(Packet::Tcp(seg)) = parse(LinkType::RAW, &ip[..ip.len() - 30]) else { panic!() };
        assert_eq!((seg.payload.len(), seg.missing), (70, 30));
    }

    #[test]
    fn udp_over_ipv6() {
        let mut out = Vec::new();
        PacketBuilder::ipv6([0; 16], [0xff; 16], 1).udp(5000, 48899).write(&mut out, b"YZ-RECOSCAN").unwrap();
        let Ok(Packet::Udp(d)) = parse(LinkType::IPV6, &out) else { panic!() };
        assert_eq!(d.payload, b"YZ-RECOSCAN");
        assert_eq!(d.dst.port(), 48899);
        assert!(d.dst.is_ipv6());
    }

    #[test]
    fn garbage_is_skipped() {
        assert_eq!(parse(LinkType::ETHERNET, &[]), Err(Skip::Malformed));
        assert_eq!(parse(LinkType::RAW, &[0x45]), Err(Skip::NotIp));
        assert_eq!(parse(LinkType::LINUX_SLL2, &[0; 3]), Err(Skip::Malformed));
        let mut arp = vec![0u8; 12];
        arp.extend([0x08, 0x06]);
        arp.extend([0u8; 28]);
        assert!(parse(LinkType::ETHERNET, &arp).is_err());
    }
}
