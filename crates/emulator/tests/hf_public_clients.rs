//! Tolerance test: the request shapes of every public client listed in hf-protocol.md §4,
//! replayed byte for byte against the HF emulator over real loopback sockets.
//!
//! One test per client. Each replays what that client puts on the wire (terminators, case,
//! timestamps, datagram contents), with its connection habits (new connection per command
//! or one persistent socket, pauses, a single `recv` with its own buffer size, its own UDP
//! port standing in for 48899), and asserts what that client needs to see to work, using
//! the client's own validation rules where it has any. Where a client is broken by design,
//! what reaches the wire is still replayed and the emulator's tolerant behaviour asserted.
//!
//! Stand-ins: plugs live on 127.0.161.0/24 (every address 13 characters long, see the C#
//! client), ports are picked free; a free port replaces 48899 where a client binds 48899
//! (the plug's reply-copy port is set to it), and `127.255.255.255` replaces the LAN
//! broadcast addresses. No timing is asserted: timeouts only guard against hangs, and the
//! clients' own pauses are kept only where they are part of the habit being replayed.
//!
//! Not replayed: gitzhou/reco4life (Ruby) and the cloud half of Purelightme talk only to
//! the cloud API; the SmartLink v3 length coding on UDP 49999 (cfxtby `RecoGrant`, the
//! decompiled SDK) has no emulator surface; the HF SDK headers, manuals, AT+H dumps and the
//! Go honeypot are not clients.

mod hf_common;
#[path = "hf_public_clients/wire.rs"]
mod wire;

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket},
    time::Duration,
};

use hf_common::{server_cfg, start, start_with, GUARD};
use plugctl_emulator::hf::{
    Link, MeterConfig, PlugConfig, ReplyCopy, RunningPlug, ServerConfig, StartMode, HOME_KEY, HOME_SSID,
};
use plugctl_proto::hf::{assist::parse_wscan, LineEnding};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::UdpSocket,
};
use wire::{
    at_reply, bind_udp, broadcast_fleet, broadcast_to, connect, member, one_shot, port_of, reco_record,
    recv_connected, recv_dgram, recv_once, recv_within, relay, send, send_to, show, text, wait_rebooted,
    wait_relay,
};

/// Plug addresses of this file: 127.0.161.`n` (13 characters for n ≥ 100).
fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 161, n)
}

/// A provisioned plug on `ip(n)` (AP fallback `ip(n + 1)`), with its own MAC and serial.
fn sta(n: u8) -> PlugConfig {
    PlugConfig {
        home_ip: ip(n),
        ap_ip: ip(n + 1),
        start: StartMode::Sta,
        ..PlugConfig::numbered(usize::from(n), 161)
    }
}

/// An unprovisioned plug on its AP address `ip(n)`, joining to `ip(n + 1)`.
fn ap(n: u8) -> PlugConfig {
    PlugConfig {
        ap_ip: ip(n),
        home_ip: ip(n + 1),
        start: StartMode::Ap,
        ..PlugConfig::numbered(usize::from(n), 161)
    }
}

fn control_of(plug: &RunningPlug, at: Ipv4Addr) -> SocketAddr {
    SocketAddr::from((at, plug.ports().control))
}

fn udp_of(plug: &RunningPlug, at: Ipv4Addr) -> SocketAddr {
    SocketAddr::from((at, plug.ports().udp))
}

/// A plug whose `YZ-RECOSCAN` reply copies go to `port` (the client's stand-in for 48899).
async fn start_copying_to(cfg: PlugConfig, port: u16) -> RunningPlug {
    start_with(cfg, ServerConfig { reply_copy: ReplyCopy::Port(port), ..server_cfg() }).await
}

/// The 7 YZOUT fields of a `+ok=I,U,F,P,PQ,E,EQ` reply (after trimming).
fn yzout_fields(reply: &[u8]) -> Vec<u64> {
    let t = text(reply).trim();
    let csv = t.strip_prefix("+ok=").unwrap_or_else(|| panic!("not a YZOUT reply: {}", show(reply)));
    let fields: Vec<u64> = csv
        .split(',')
        .map(|f| f.parse().unwrap_or_else(|_| panic!("YZOUT field {f:?} is not a number: {}", show(reply))))
        .collect();
    assert_eq!(fields.len(), 7, "YZOUT needs 7 fields: {}", show(reply));
    fields
}

/// C `atoi`: leading decimal digits, 0 if none.
fn atoi(s: &str) -> u64 {
    let digits: String = s.trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

// =========================================================================================
// Reco4life / Maginon local protocol (TCP 8899, YZ-RECOSCAN)
// =========================================================================================

/// The Maginon app as quoted by the blog wp.bizoir.dk (Part 3, ?p=34; hf-protocol.md §4,
/// §2.2): `AT+YZSWITCH=1,ON|OFF,201410292146\r\n` on TCP 8899, sent while on the plug's
/// access point (Part 2). The app's connection habits are not known: one connection per
/// command, one read.
#[tokio::test]
async fn maginon_app_blog() {
    let plug = start(ap(101)).await;
    let ctl = control_of(&plug, ip(101));

    let r = one_shot(ctl, b"AT+YZSWITCH=1,ON,201410292146\r\n", 512).await;
    assert_eq!(text(&r), "+ok\r\n");
    assert!(relay(&plug), "the relay must be ON");

    let r = one_shot(ctl, b"AT+YZSWITCH=1,OFF,201410292146\r\n", 512).await;
    assert_eq!(text(&r), "+ok\r\n");
    assert!(!relay(&plug), "the relay must be OFF");

    // the stale 2014 timestamp is accepted (and only recorded)
    let t = plug.device().lock().expect("plug state lock").last_client_time().map(|t| t.to_string());
    assert_eq!(t.as_deref(), Some("201410292146"));
}

/// trackds/node-reco `reco.ts` (TypeScript; hf-protocol.md §4, §2.2–§2.4, §3.1):
/// `discover()` binds 48899, sends `YZ-RECOSCAN` to the broadcast address and keeps every
/// reply with ≥ 5 fields for 500 ms; `powerOn`/`powerOff`/`info` open a connection per
/// command, send `AT+YZSWITCH=1,ON,<12 digits>\r\n` (or `AT+YZDELAY=…`, `AT+YZOUT\r\n`),
/// take the first `'data'` chunk, require `/ok/` and use `str.trim().slice(4)`.
#[tokio::test]
async fn node_reco() {
    // udp.bind(48899): a free port stands in for it
    let udp = bind_udp(Ipv4Addr::UNSPECIFIED, 0, true);
    let fleet = broadcast_fleet(ip(103), 2, StartMode::Sta, ReplyCopy::Port(port_of(&udp)), 103).await;

    /// One `discover()`: reply fields by IP (the 500 ms window is not asserted).
    async fn discover(udp: &UdpSocket, to: SocketAddr, plugs: usize) -> BTreeMap<IpAddr, Vec<String>> {
        send_to(udp, b"YZ-RECOSCAN", to).await;
        let mut found = BTreeMap::new();
        while found.len() < plugs {
            // node's 'message' event hands over the whole datagram
            let (msg, rinfo) = recv_dgram(udp, 65_507).await;
            let info: Vec<String> = text(&msg).split(',').map(str::to_string).collect();
            assert!(info.len() >= 5, "node-reco drops replies with fewer than 5 fields: {}", show(&msg));
            assert_eq!(info[0].parse::<IpAddr>().ok(), Some(rinfo.ip()), "dev.ip is used to connect");
            // Number.parseInt(res), Number.parseInt(status) must not be NaN
            for f in &info[3..5] {
                assert!(f.starts_with(|c: char| c.is_ascii_digit()), "parseInt gives NaN: {}", show(&msg));
            }
            found.insert(rinfo.ip(), info);
        }
        found
    }

    /// `_send`: first data chunk, `/ok/` or reject, resolve `str.trim().slice(4)`.
    async fn node_send(addr: SocketAddr, msg: &[u8]) -> String {
        let data = one_shot(addr, msg, 65_536).await;
        let s = text(&data);
        assert!(s.contains("ok"), "node-reco rejects {} with {}", show(msg), show(&data));
        s.trim().get(4..).unwrap_or_default().to_string()
    }

    let found = discover(&udp, broadcast_to(&fleet), 2).await;
    let p0 = &fleet.plugs()[0];
    let dev = &found[&IpAddr::V4(p0.ip)];
    assert_eq!((dev[1].as_str(), dev[2].as_str()), (p0.mac.to_string().as_str(), p0.serial.as_str()));
    assert_eq!(dev[4], "0", "status: OFF at start");
    let plug = member(&fleet, 0);
    let ctl = SocketAddr::new(IpAddr::V4(p0.ip), fleet.ports().control);

    // powerOn(ip)
    node_send(ctl, b"AT+YZSWITCH=1,ON,201905201830\r\n").await;
    assert!(relay(plug), "powerOn must switch the relay ON");
    // info(ip): 7 × Number.parseInt
    let ret = node_send(ctl, b"AT+YZOUT\r\n").await;
    let rets: Vec<u64> = ret.split(',').map(|f| f.parse().expect("parseInt of a YZOUT field")).collect();
    assert_eq!(rets.len(), 7, "RecoPowerInfo has 7 fields: {ret:?}");
    assert!(rets[0] > 0 && rets[3] > 0, "I and P of a switched-on load: {ret:?}");
    // powerOff(ip, 5): delayed, in minutes
    node_send(ctl, b"AT+YZDELAY=1,OFF,5,201905201831\r\n").await;
    let pending = plug.device().lock().expect("plug state lock").pending_delay(1).map(|(on, _)| on);
    assert_eq!(pending, Some(false), "a pending OFF in 5 minutes");
    assert!(relay(plug), "YZDELAY does not switch at once");
    // powerOff(ip)
    node_send(ctl, b"AT+YZSWITCH=1,OFF,201905201832\r\n").await;
    assert!(!relay(plug));

    // the same socket stays bound for a second discover(): both plugs report OFF
    let found = discover(&udp, broadcast_to(&fleet), 2).await;
    assert!(found.values().all(|info| info[4] == "0"), "{found:?}");
}

/// legendmohe/LEHome `lib/helper/SwitchHelper.py` (Python 2, used 2014-07…2015-08;
/// hf-protocol.md §4, §1.2, §2.2, §2.3, §3.1): heartbeat `YZ-RECOSCAN` from
/// `0.0.0.0:48899` to `255.255.255.255:48899`, replies read with `recvfrom(512)`,
/// `strip().split(',')`, ≥ 5 fields, state = field 5; commands on a new connection,
/// **0.5 s pause after connecting**, `AT+YZSWITCH=1,ON,<14 digits>\r\n`, one `recv(512)`,
/// `strip() == "+ok"`; `AT+YZOUT\r\n` parsed with `recv[5:-1].split(",")`.
#[tokio::test]
async fn lehome_switch_helper() {
    // _init_heartbeat_socket: bind(('0.0.0.0', 48899)) + SO_BROADCAST (free port instead)
    let hb = bind_udp(Ipv4Addr::UNSPECIFIED, 0, true);
    let fleet = broadcast_fleet(ip(107), 1, StartMode::Sta, ReplyCopy::Port(port_of(&hb)), 107).await;
    let plug = member(&fleet, 0);
    let bcast = broadcast_to(&fleet);

    /// `_heartbeat_send` + one pass of `_heartbeat_recv`: (switch ip, status on).
    async fn heartbeat(hb: &UdpSocket, to: SocketAddr) -> (Ipv4Addr, bool) {
        send_to(hb, b"YZ-RECOSCAN", to).await;
        let (recv, address) = recv_dgram(hb, 512).await;
        let status: Vec<&str> = text(&recv).trim().split(',').collect();
        assert!(status.len() >= 5, "LEHome skips replies with fewer than 5 fields: {}", show(&recv));
        let ip: Ipv4Addr = status[0].parse().unwrap_or_else(|_| panic!("switch ip: {}", show(&recv)));
        assert_eq!(IpAddr::V4(ip), address.ip(), "LEHome keys switches by field 1");
        (ip, status[4] == "1")
    }

    /// `_send_cmd`: create_connection, time.sleep(0.5), send, recv(512), close, strip().
    async fn send_cmd(addr: SocketAddr, cmd: &[u8]) -> String {
        let mut sock = connect(addr).await;
        // the pause is part of the habit: a greeting would be read as the reply
        tokio::time::sleep(Duration::from_millis(500)).await;
        send(&mut sock, cmd).await;
        let recv = recv_once(&mut sock, 512).await;
        text(&recv).trim().to_string()
    }

    let (switch_ip, on) = heartbeat(&hb, bcast).await;
    assert!(!on);
    let ctl = SocketAddr::from((switch_ip, fleet.ports().control));

    // send_open: res == "+OK" or res == "+ok"
    assert_eq!(send_cmd(ctl, b"AT+YZSWITCH=1,ON,20140712143012\r\n").await, "+ok");
    assert!(relay(plug), "the relay must be ON");
    assert!(heartbeat(&hb, bcast).await.1, "status[4] == \"1\" after switching on");

    // show_info: recv[5:-1].split(","), then info[0] … info[6] (IndexError if fewer)
    let recv = send_cmd(ctl, b"AT+YZOUT\r\n").await;
    assert!(recv.starts_with("+ok="), "{recv:?}");
    let info: Vec<&str> = recv.get(5..recv.len().saturating_sub(1)).unwrap_or_default().split(',').collect();
    assert_eq!(info.len(), 7, "LEHome indexes info[0..7] of {recv:?}");
    // readable_info: float(info["U"])/100, float(info["P"])/10 (empty fields become "0");
    // the [5:] slice cuts into field 1 (I), hf-protocol.md §4.1 item 5
    let u: f64 = info[1].parse().unwrap_or_else(|_| panic!("U of {recv:?}"));
    let p: f64 = info[3].parse().unwrap_or_else(|_| panic!("P of {recv:?}"));
    assert!(u > 0.0 && p > 0.0, "U and P of a switched-on load: {recv:?}");

    // send_close
    assert_eq!(send_cmd(ctl, b"AT+YZSWITCH=1,OFF,20140712143512\r\n").await, "+ok");
    assert!(!relay(plug), "the relay must be OFF");
    assert!(!heartbeat(&hb, bcast).await.1);
    let t = plug.device().lock().expect("plug state lock").last_client_time().map(|t| t.to_string());
    assert_eq!(t.as_deref(), Some("201407121435"), "the 14-digit timestamp is read to the minute");
}

/// cfxtby/smartFurnitureControl (C; hf-protocol.md §4, §1.2, §2.6, §3.1): the raw capture in
/// `recoContral.c` (a TCP tool on one connection: `AT+YZSWITCH=1,ON,201704031153` without
/// newline → `+ok`; `…OFF…` → `+ok` + `+error`; `AT+YZOUT\n` → `+ok=3,22694,5007,0,0,3548,0`),
/// and the client code: `hello.c` binds 48899 and sends `"YZ-RECOSCAN\0"` (`strlen` → 11
/// bytes) to the broadcast address, one `recvfrom(512)`; one `recoInfo.h` version has the
/// typo `RZ-RECOSCAN`, the other `SWITCHONINS "AT+YZSWITCH=1,on,"` (timestamp appended at
/// run time, no terminator) and `GETINFOINS "AT+YZOUT\r\t"`; `contral()` opens a connection
/// per command and reads once with `recv(buf, 100)`.
#[tokio::test]
async fn cfxtby_smart_furniture_control() {
    // --- the capture, with the emulator's quirk switch and the captured meter
    let plug = start(PlugConfig { meter: MeterConfig::captured(), captured_quirk: true, ..sta(109) }).await;
    let mut tool = connect(control_of(&plug, ip(109))).await;
    send(&mut tool, b"AT+YZSWITCH=1,ON,201704031153").await;
    assert_eq!(text(&recv_once(&mut tool, 1024).await), "+ok\r\n");
    assert!(relay(&plug));
    send(&mut tool, b"AT+YZSWITCH=1,OFF,201704031153").await;
    assert_eq!(text(&recv_once(&mut tool, 1024).await), "+ok\r\n+error\r\n", "one read: +ok and +error");
    assert!(!relay(&plug));
    send(&mut tool, b"AT+YZOUT\n").await;
    // the capture still shows I=3 after the OFF (maybe the OFF failed: it also said +error);
    // the emulator did switch off, so I = P = 0 and the rest is the captured reading
    assert_eq!(text(&recv_once(&mut tool, 1024).await), "+ok=0,22694,5007,0,0,3548,0\r\n");
    drop(tool);

    // --- the client code
    let scan = bind_udp(Ipv4Addr::UNSPECIFIED, 0, true); // bind 48899 (free port instead)
    let fleet = broadcast_fleet(ip(111), 1, StartMode::Sta, ReplyCopy::Port(port_of(&scan)), 111).await;
    let plug = member(&fleet, 0);
    let bcast = broadcast_to(&fleet);
    // hello.c: sendto(scanSocket, buf1, strlen(buf1)) with buf1 = "YZ-RECOSCAN\0"
    send_to(&scan, b"YZ-RECOSCAN", bcast).await;
    let (buf, from) = recv_dgram(&scan, 512).await;
    let (plug_ip, _, on) = reco_record(&buf);
    assert_eq!((IpAddr::V4(plug_ip), on), (from.ip(), false));
    // the RZ-RECOSCAN typo is ignored (that client then waits forever): the next datagram
    // answers the correct request sent after it
    send_to(&scan, b"RZ-RECOSCAN", bcast).await;
    send_to(&scan, b"YZ-RECOSCAN", bcast).await;
    let (next, _) = recv_dgram(&scan, 512).await;
    assert_eq!(show(&next), show(&buf), "RZ-RECOSCAN must get no reply");

    // contral(SWITCHONINS…): recv(s, buf, 100). As written the client never reports
    // success (strcmp(buf, "+ok") on "+ok\r\n", and ins[3] is 'Y', not 'N'/'F').
    let ctl = SocketAddr::from((plug_ip, fleet.ports().control));
    let r = one_shot(ctl, b"AT+YZSWITCH=1,on,201704051020", 100).await;
    assert!(text(&r).starts_with("+ok"), "{}", show(&r));
    assert!(relay(plug), "lower-case on, no terminator: the relay must be ON");
    // contral(GETINFOINS): recv_size > 10 → recordReco (its strtok on "+ok=…" makes atoi
    // read 0 for I, another client bug); the whole reply fits the 100-byte read
    let r = one_shot(ctl, b"AT+YZOUT\r\t", 100).await;
    assert!(r.len() > 10, "{}", show(&r));
    assert!(yzout_fields(&r)[0] > 0, "I of a switched-on load: {}", show(&r));
    let r = one_shot(ctl, b"AT+YZSWITCH=1,off,201704051021", 100).await;
    assert!(text(&r).starts_with("+ok"), "{}", show(&r));
    assert!(!relay(plug));
}

/// CHNVigny/SServer `recoContact.cpp`, `recoContact.h`, `webDeal.cpp` (C++; hf-protocol.md §4,
/// §1.2, §3.1): `RecoScan` binds `INADDR_ANY:48899`, sends `YZ-RECOSCAN` 3× back to back to
/// the broadcast address, reads `recvfrom(512)` until a 3 s timeout and checks each reply
/// with `recordReco` (de-duplicated by SN); then `contral()` on a new connection per
/// command: `AT+YZSWITCH=1,on,201705011455` / `…off…` (no terminator), `AT+YZOUT\r\n`,
/// one `recv(buf, 100)`; `recordReco1` needs I, U, F, P and E non-zero.
#[tokio::test]
async fn chnvigny_sserver() {
    let scan = bind_udp(Ipv4Addr::UNSPECIFIED, 0, true);
    let fleet = broadcast_fleet(ip(113), 1, StartMode::Sta, ReplyCopy::Port(port_of(&scan)), 113).await;
    let plug = member(&fleet, 0);
    let bcast = broadcast_to(&fleet);

    /// `RecoScan`: 3 requests, every reply checked, the devices by SN (ip, on).
    async fn reco_scan(scan: &UdpSocket, to: SocketAddr) -> BTreeMap<String, (Ipv4Addr, bool)> {
        for _ in 0..3 {
            send_to(scan, b"YZ-RECOSCAN", to).await;
        }
        let mut devices = BTreeMap::new();
        // each copy is answered (the 3 s read window is not asserted)
        for _ in 0..3 {
            let (buf, from) = recv_dgram(scan, 512).await;
            let (ip, sn, on) = reco_record(&buf);
            assert_eq!(IpAddr::V4(ip), from.ip(), "{}", show(&buf));
            devices.insert(sn, (ip, on));
        }
        devices
    }

    // webDeal "switch": scan, then SWITCHONINS because ss.state == 0
    let devices = reco_scan(&scan, bcast).await;
    assert_eq!(devices.len(), 1, "one plug, de-duplicated by SN: {devices:?}");
    let (sn, &(plug_ip, on)) = devices.iter().next().expect("one device");
    assert_eq!((sn.as_str(), on), (plug.serial(), false));
    let ctl = SocketAddr::from((plug_ip, fleet.ports().control));
    let r = one_shot(ctl, b"AT+YZSWITCH=1,on,201705011455", 100).await;
    assert!(text(&r).starts_with("+ok"), "{}", show(&r));
    assert!(relay(plug), "the relay must be ON");

    // webDeal "state": contral(GETINFOINS) → recv_size > 10 → recordReco1
    let r = one_shot(ctl, b"AT+YZOUT\r\n", 100).await;
    assert!(r.len() > 10, "{}", show(&r));
    yzout_fields(&r);
    let after_eq = text(&r).split('=').filter(|t| !t.is_empty()).nth(1).unwrap_or_default();
    let tok: Vec<u64> = after_eq.split(',').filter(|t| !t.is_empty()).map(atoi).collect();
    assert!(tok.len() >= 6, "{}", show(&r));
    for (i, name) in [(0, "I"), (1, "U"), (2, "F"), (3, "P"), (5, "E")] {
        assert_ne!(tok[i], 0, "recordReco1 rejects {name} = 0: {}", show(&r));
    }

    // webDeal "switch" again: ss.state == 1 → SWITCHOFFINS
    let devices = reco_scan(&scan, bcast).await;
    assert_eq!(devices.values().next().map(|d| d.1), Some(true), "state 1 after switching on");
    let r = one_shot(ctl, b"AT+YZSWITCH=1,off,201705011455", 100).await;
    assert!(text(&r).starts_with("+ok"), "{}", show(&r));
    assert!(!relay(plug), "the relay must be OFF");

    // strcmp(buf, "+ok") needs a reply without line ending: the emulator's option
    let bare = start(PlugConfig { line_ending: LineEnding::None, ..sta(143) }).await;
    let r = one_shot(control_of(&bare, ip(143)), b"AT+YZSWITCH=1,on,201705011455", 100).await;
    assert_eq!(show(&r), "+ok", "exactly +ok passes strcmp");
    assert!(relay(&bare));
}

/// The STM32/lwIP home gateway (unattributed C, 2015; hf-protocol.md §4, §2.2, §3.1):
/// `smart_switch.c` sends `YZ-RECOSCAN` (`sizeof - 1` = 11 bytes) from local port 48899 to
/// `gw | 0xff000000`, and accepts a reply only with **exactly 3 dots and 5 commas**, field 1
/// equal to the UDP source, 12 hex digits after the first comma, 9 SN bytes after the
/// second and the flags at fixed offsets; `device_server.c` keeps **one TCP connection**
/// and sends `AT+YZSWITCH=1,ON,201511222133\r\n` / `…OFF…` on it (`rec[256]`).
#[tokio::test]
async fn stm32_lwip_gateway() {
    // upcb->local_port = 48899 (free port instead)
    let sw = bind_udp(Ipv4Addr::UNSPECIFIED, 0, true);
    let fleet = broadcast_fleet(ip(115), 1, StartMode::Sta, ReplyCopy::Port(port_of(&sw)), 115).await;
    let plug = member(&fleet, 0);

    /// `Switch_find` + `switch_rec_callback`: (ip, is_online char, state char).
    async fn find(sw: &UdpSocket, to: SocketAddr) -> (Ipv4Addr, u8, u8) {
        send_to(sw, b"YZ-RECOSCAN", to).await;
        let (rec, addr) = recv_dgram(sw, 256).await;
        let r = show(&rec);
        let count = |c: u8| rec.iter().filter(|&&b| b == c).count();
        assert_eq!((count(b'.'), count(b',')), (3, 5), "NumofStr: exactly 3 dots and 5 commas: {r}");
        let comma =
            |from: usize| rec.get(from..).and_then(|t| t.iter().position(|&b| b == b',')).map(|i| from + i);
        // inet_aton(rec) compared with the source address. A strict inet_aton (lwIP, glibc)
        // stops at the comma and fails; the comparison is replayed on the text before it.
        let c1 = comma(0).unwrap_or_else(|| panic!("no comma: {r}"));
        let ip: Ipv4Addr = text(&rec[..c1]).parse().unwrap_or_else(|_| panic!("field 1: {r}"));
        assert_eq!(IpAddr::V4(ip), addr.ip(), "ip_addr.addr != addr->addr: {r}");
        // memcpy(cp, ptr+1, 12) → MacAsciiToInt needs 12 hex digits
        let mac = rec.get(c1 + 1..c1 + 13).unwrap_or_else(|| panic!("12 MAC bytes: {r}"));
        assert!(mac.iter().all(u8::is_ascii_hexdigit), "MAC: {r}");
        // ptr = strstr(ptr+1, ","); memcpy(sn, ptr+1, 9); ptr = strstr(ptr+10, ",")
        let c2 = comma(c1 + 1).unwrap_or_else(|| panic!("second comma: {r}"));
        let sn = rec.get(c2 + 1..c2 + 10).unwrap_or_else(|| panic!("9 SN bytes: {r}"));
        assert!(sn.iter().all(u8::is_ascii_digit), "SN: {r}");
        let c3 = comma(c2 + 10).unwrap_or_else(|| panic!("third comma: {r}"));
        assert_eq!(c3, c2 + 10, "the flags are read at fixed offsets after a 9-byte SN: {r}");
        // is_online = *(ptr+1); state = *(ptr+3)
        let (online, state) = (rec.get(c3 + 1).copied(), rec.get(c3 + 3).copied());
        let (Some(online), Some(state)) = (online, state) else { panic!("flags: {r}") };
        assert_eq!(rec.get(c3 + 2), Some(&b','), "one-character flag: {r}");
        (ip, online, state)
    }

    let (plug_ip, online, state) = find(&sw, broadcast_to(&fleet)).await;
    assert_eq!((online, state), (b'1', b'0'));

    // Switch_TCP_Client_Attemp_Connect, then every command on that connection
    let mut tcp = connect(SocketAddr::from((plug_ip, fleet.ports().control))).await;
    let commands: [(&[u8], bool); 3] = [
        (b"AT+YZSWITCH=1,ON,201511222133\r\n", true),
        (b"AT+YZSWITCH=1,OFF,201511222133\r\n", false),
        (b"AT+YZSWITCH=1,ON,201511222133\r\n", true),
    ];
    for (cmd, on) in commands {
        send(&mut tcp, cmd).await;
        let rec = recv_once(&mut tcp, 256).await;
        assert_eq!(text(&rec), "+ok\r\n", "{}", show(cmd));
        assert_eq!(relay(plug), on, "{}", show(cmd));
    }
    // "plugfind" again: the state byte follows the relay
    assert_eq!(find(&sw, broadcast_to(&fleet)).await.2, b'1');
    send(&mut tcp, b"AT+YZSWITCH=1,OFF,201511222133\r\n").await;
    assert_eq!(text(&recv_once(&mut tcp, 256).await), "+ok\r\n", "the connection stays usable");
}

/// The C# client (unattributed, `namespace Reco4life`; hf-protocol.md §4, §1.2, §3.1):
/// `new UdpClient(48899)` sends `YZ-RECOSCAN` to `192.168.0.255:48899` and is closed; a
/// **second** `new UdpClient(48899)` receives the reply; `host = returnData.Substring(0,13)`;
/// then **one persistent socket** carrying up to 99 commands `AT+YZSWITCH=1,ON|OFF,201801010101`
/// (no terminator, fixed timestamp), each followed by one `Receive(1024)`.
#[tokio::test]
async fn csharp_reco4life() {
    // UdpClient(48899): a free port stands in
    let sender = StdUdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind the C# sender");
    let port = sender.local_addr().expect("sender address").port();
    // a 13-character plug address: Substring(0,13) only works for those (client bug,
    // hf-protocol.md §3.1)
    let fleet = broadcast_fleet(ip(117), 1, StartMode::Sta, ReplyCopy::Port(port), 117).await;
    let plug = member(&fleet, 0);
    sender.set_broadcast(true).expect("SO_BROADCAST");
    sender.connect(broadcast_to(&fleet)).expect("udpClient.Connect");
    sender.send(b"YZ-RECOSCAN").expect("udpClient.Send");
    // udpClient.Close(); new UdpClient(48899): no `.await` in between, so on this
    // single-threaded runtime the plug answers only once the receiver is bound
    drop(sender);
    let receiver = bind_udp(Ipv4Addr::UNSPECIFIED, port, false);
    let (receive_bytes, from) = recv_dgram(&receiver, 65_507).await;
    let return_data = text(&receive_bytes);
    let host = return_data.get(..13).unwrap_or_else(|| panic!("Substring(0,13) of {return_data:?}"));
    let host: Ipv4Addr = host.parse().unwrap_or_else(|_| panic!("IPAddress.Parse({host:?})"));
    assert_eq!(IpAddr::V4(host), from.ip());
    assert_eq!(host, fleet.plugs()[0].ip);

    // one socket, commands read from the console: "0" → ON, "1" → OFF
    let mut c = connect(SocketAddr::from((host, fleet.ports().control))).await;
    for i in 1..100 {
        let (zhiling, on): (&[u8], bool) = if i % 2 == 1 {
            (b"AT+YZSWITCH=1,ON,201801010101", true)
        } else {
            (b"AT+YZSWITCH=1,OFF,201801010101", false)
        };
        send(&mut c, zhiling).await;
        let recv = recv_once(&mut c, 1024).await;
        assert_eq!(text(&recv), "+ok\r\n", "command {i}: {}", show(zhiling));
        assert_eq!(relay(plug), on, "command {i}");
    }
}

/// The Python 3 client (unattributed, probably "Reco4lifeP10A"; hf-protocol.md §4, §2.2,
/// §3.1): `on()`/`off()` connect, send `AT+YZSWITCH=1,ON,time` (the literal word `time`, no
/// terminator), one `recv(1024)`; `state()` starts `search.UdpServer()` (a listener, on
/// 48899 per §3.1), sends `YZ-RECOSCAN` from an ephemeral socket and **closes it at once**,
/// so only the copy the plug sends to the listener's port can arrive.
#[tokio::test]
async fn python3_reco4life_p10a() {
    let listener = bind_udp(Ipv4Addr::UNSPECIFIED, 0, false); // search.UdpServer() on "48899"
    let plug = start_copying_to(sta(119), port_of(&listener)).await;
    let ctl = control_of(&plug, ip(119));

    // on(ip1)
    let data1 = one_shot(ctl, b"AT+YZSWITCH=1,ON,time", 1024).await;
    assert_eq!(text(&data1), "+ok\r\n");
    assert!(relay(&plug), "the relay must be ON");

    // state(ip1). As written it never sends: after `from socket import *`, `socket.socket`
    // raises AttributeError (printed as "wrong"). Replayed as intended (§3.1): send from an
    // ephemeral socket, close it before the plug runs, collect at the listener.
    let s = StdUdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind the sender");
    s.send_to(b"YZ-RECOSCAN", udp_of(&plug, ip(119))).expect("sendto");
    drop(s);
    let (copy, from) = recv_dgram(&listener, 2048).await;
    assert_eq!(from, udp_of(&plug, ip(119)), "the copy comes from the plug's UDP socket");
    let fields: Vec<&str> = text(&copy).split(',').collect();
    assert!(fields.len() >= 5, "{}", show(&copy));
    assert_eq!((fields[0], fields[4]), (ip(119).to_string().as_str(), "1"), "{}", show(&copy));

    // off(ip1)
    let data1 = one_shot(ctl, b"AT+YZSWITCH=1,OFF,time", 1024).await;
    assert_eq!(text(&data1), "+ok\r\n");
    assert!(!relay(&plug), "the relay must be OFF");
}

/// The Python 2 serial bridge (unattributed; hf-protocol.md §4, §1.2, §5.5): a new connection
/// per command, `AT+YZSWITCH=1,on,<14 digits><CR><LF>` (lower-case state, the **literal text**
/// `<CR><LF>`), one `recv(1024)`, `re.match("^\+ok", ret)`; `querySwitch` sends
/// `AT+YZOUT<CR><LF>`; `checkSwitch` sends the wrong discovery string `AT+RECOSCAN` by UDP.
#[tokio::test]
async fn python2_serial_bridge() {
    let plug = start(sta(121)).await;
    let host = control_of(&plug, ip(121));

    // enableSwitch / disableSwitch: the literal suffix lands in the unchecked timestamp
    let ret = one_shot(host, b"AT+YZSWITCH=1,on,20140712143012<CR><LF>", 1024).await;
    assert!(text(&ret).starts_with("+ok"), "re.match('^\\+ok'): {}", show(&ret));
    assert!(relay(&plug), "the relay must be ON");
    let ret = one_shot(host, b"AT+YZSWITCH=1,off,20140712143512<CR><LF>", 1024).await;
    assert!(text(&ret).starts_with("+ok"), "re.match('^\\+ok'): {}", show(&ret));
    assert!(!relay(&plug), "the relay must be OFF");

    // querySwitch (defined, never called by run()): the verb reads "YZOUT<CR><LF>", which
    // is no command, so +ERROR (§5.2 rule 8); the client only returns the raw reply
    let ret = one_shot(host, b"AT+YZOUT<CR><LF>", 1024).await;
    assert_eq!(text(&ret), "+ERROR\r\n");

    // checkSwitch (never called): AT+RECOSCAN is ignored (§5.3), so that client's
    // recv(1024) without timeout would block; a correct request sent after it is answered
    // first
    let s = bind_udp(Ipv4Addr::LOCALHOST, 0, false);
    send_to(&s, b"AT+RECOSCAN", udp_of(&plug, ip(121))).await;
    send_to(&s, b"YZ-RECOSCAN", udp_of(&plug, ip(121))).await;
    let (first, _) = recv_dgram(&s, 1024).await;
    assert!(text(&first).starts_with(&format!("{},", ip(121))), "AT+RECOSCAN was answered: {}", show(&first));
}

/// Purelightme/reco4life `src/LocalReco4life.php` (PHP/swoole; hf-protocol.md §4, §2.2,
/// §2.4, §3.1): `scan()` connects a UDP client, `sendto('YZ-RECOSCAN')` from an ephemeral
/// port and `recv()`s once (reply to the source port). `control()`/`delayControl()` connect to
/// 8899 and call `->sent(…)`, which does not exist: **nothing is sent**, the script dies and
/// the socket closes. Had it been `send()`, the bytes would be
/// `AT+YZSWITCH=1,on,2018AugMon1640` (`date('YMDHi')`) and `AT+YZDELAY=1,on,1,2018AugMon1640`,
/// with the connection closed without reading.
#[tokio::test]
async fn purelightme_php() {
    let plug = start(sta(123)).await;
    let ctl = control_of(&plug, ip(123));

    // scan(): connected UDP client (to the plug: a connected socket would drop unicast
    // replies to a broadcast destination), one recv()
    let udp = bind_udp(Ipv4Addr::LOCALHOST, 0, false);
    udp.connect(udp_of(&plug, ip(123))).await.expect("$udp->connect");
    udp.send(b"YZ-RECOSCAN").await.expect("$udp->sendto");
    let reply = recv_connected(&udp, 65_535).await;
    let fields: Vec<&str> = text(&reply).split(',').collect();
    assert!(fields.len() >= 5 && fields[0] == ip(123).to_string(), "{}", show(&reply));

    // control() as written: connect, no data, close. The plug sends nothing and closes too.
    let mut tcp = connect(ctl).await;
    tcp.shutdown().await.expect("close the sending side");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(GUARD, tcp.read_to_end(&mut rest)).await.expect("the plug never closed");
    assert!(rest.is_empty(), "nothing must answer an empty connection: {}", show(&rest));
    assert!(!relay(&plug));

    // control() as intended: send, close without reading
    let mut tcp = connect(ctl).await;
    send(&mut tcp, b"AT+YZSWITCH=1,on,2018AugMon1640").await;
    drop(tcp);
    wait_relay(&plug, true).await;

    // delayControl($ip, 1, 'off', 1) as intended
    let mut tcp = connect(ctl).await;
    send(&mut tcp, b"AT+YZDELAY=1,off,1,2018AugMon1640").await;
    drop(tcp);
    tokio::time::timeout(GUARD, async {
        while plug.device().lock().expect("plug state lock").pending_delay(1).is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the delayed OFF was never scheduled");
    let pending = plug.device().lock().expect("plug state lock").pending_delay(1).map(|(on, _)| on);
    assert_eq!(pending, Some(false));
    assert!(relay(&plug), "the delay has not run out");
}

// =========================================================================================
// Hi-Flying assist protocol (UDP 48899)
// =========================================================================================

/// glenpp/OrviboS20 `S20control/S20control.py` `connect` (Python 2; hf-protocol.md §4, §3.2,
/// §3.3): an ephemeral socket with SO_BROADCAST sends to the AP broadcast address
/// (`10.10.100.255`): `HF-A11ASSISTHREAD` → `socketip, socketmac, sockethost =
/// data.split(',')` (exactly 3 fields); `+ok`; `AT+WSSSID=<ssid>\r`, `AT+WSKEY=WPA2PSK,AES,<key>\r`,
/// `AT+WMODE=STA\r`, each answered with `data.rstrip() == '+ok'`; `AT+Z\r` (“no return”).
#[tokio::test]
async fn glenpp_orvibo_s20_connect() {
    assert_eq!((HOME_SSID, HOME_KEY), ("HomeNet", "correct horse battery"), "the literals below");
    let fleet = broadcast_fleet(ip(125), 1, StartMode::Ap, ReplyCopy::Off, 125).await;
    let plug = member(&fleet, 0);
    let bcast = broadcast_to(&fleet);
    let sock = bind_udp(Ipv4Addr::UNSPECIFIED, 0, true);

    send_to(&sock, b"HF-A11ASSISTHREAD", bcast).await;
    let (data, _) = recv_dgram(&sock, 1024).await;
    let fields: Vec<&str> = text(&data).split(',').collect();
    let &[socketip, socketmac, sockethost] = fields.as_slice() else {
        panic!("socketip, socketmac, sockethost = data.split(','): {}", show(&data))
    };
    assert_eq!(socketip, ip(125).to_string());
    assert_eq!(socketmac, plug.mac().to_string());
    assert_eq!(sockethost, "HF-LPB100");

    send_to(&sock, b"+ok", bcast).await; // ack, no reply
    for cmd in
        [&b"AT+WSSSID=HomeNet\r"[..], b"AT+WSKEY=WPA2PSK,AES,correct horse battery\r", b"AT+WMODE=STA\r"]
    {
        send_to(&sock, cmd, bcast).await;
        let (data, _) = recv_dgram(&sock, 1024).await;
        assert_eq!(text(&data).trim_end(), "+ok", "data.rstrip() for {}", show(cmd));
        assert_eq!(at_reply(&data), "+ok", "HF framing");
    }
    send_to(&sock, b"AT+Z\r", bcast).await; // no return

    let status = wait_rebooted(plug, 1).await;
    assert_eq!(status.link, Link::Station { ssid: "HomeNet".into() });
    assert_eq!(status.addresses, vec![ip(126)]);
    // AT+Z got no reply: the first datagram on the socket is the answer to a later probe
    send_to(&sock, b"YZ-RECOSCAN", udp_of(plug, ip(126))).await;
    let (probe, from) = recv_dgram(&sock, 1024).await;
    assert_eq!(from, udp_of(plug, ip(126)), "AT+Z was answered: {}", show(&probe));
}

/// antevir/OrviboS20_Arduino `src/OrviboS20WiFiPair.cpp` (ESP8266; hf-protocol.md §4, §3.2,
/// §3.3, §5.5): `m_udp.begin(48899)`, commands to the subnet broadcast address, replies read
/// into `rx_buffer[64]` (63 bytes), upper-cased: `endsWith("HF-LPB100")` answers the password
/// (then `+ok` is sent), `startsWith("+OK")` the commands; an open network is set with
/// `AT+WSKEY=OPEN,NONE,\r`; `AT+Z\r` gets no answer, so it is **retransmitted** after the
/// 3 s command timeout and pairing completes.
#[tokio::test]
async fn antevir_orvibo_s20_arduino_pair() {
    let plug = start(ap(127)).await;
    // the only host on the plug's AP subnet: its address stands in for the subnet broadcast,
    // so that, as on the real AP, the retransmission after the reboot reaches nobody
    let to = udp_of(&plug, ip(127));
    let udp = bind_udp(Ipv4Addr::UNSPECIFIED, 0, false); // m_udp.begin(48899), free port instead

    /// `checkRxPacket`: what the client makes of the next datagram.
    async fn rx(udp: &UdpSocket) -> String {
        let (d, _) = recv_dgram(udp, 63).await;
        text(&d).to_uppercase()
    }

    send_to(&udp, b"HF-A11ASSISTHREAD", to).await;
    let rsp = rx(&udp).await;
    assert!(rsp.ends_with("HF-LPB100"), "the assist reply must end with the module id, no CR/LF: {rsp:?}");
    send_to(&udp, b"+ok", to).await;
    // m_passphrase == "" → OPEN,NONE,; the open simulated network has a comma in its SSID
    for cmd in [&b"AT+WSSSID=Cafe, Guest WiFi\r"[..], b"AT+WSKEY=OPEN,NONE,\r", b"AT+WMODE=STA\r"] {
        send_to(&udp, cmd, to).await;
        let rsp = rx(&udp).await;
        assert!(rsp.starts_with("+OK"), "PKT_OK expected for {}: {rsp:?}", show(cmd));
    }
    send_to(&udp, b"AT+Z\r", to).await;
    let status = wait_rebooted(&plug, 1).await;
    assert_eq!(status.link, Link::Station { ssid: "Cafe, Guest WiFi".into() });
    // the retransmitted AT+Z goes to the vanished AP address and changes nothing
    send_to(&udp, b"AT+Z\r", to).await;
    send_to(&udp, b"YZ-RECOSCAN", udp_of(&plug, ip(128))).await;
    let (probe, from) = recv_dgram(&udp, 512).await;
    assert_eq!(from, udp_of(&plug, ip(128)), "unexpected datagram: {}", show(&probe));
    assert_eq!((plug.status().boots, plug.status().online), (1, true));
}

/// The Go Orvibo S20 pairing package (unattributed, `package s20`; hf-protocol.md §4, §3.2,
/// §3.3): `net.DialUDP` from a fixed local port to the plug (a connected socket: only the
/// plug's address is heard); `sendRcv` = write + one `Read` of 1024 bytes, **any** reply
/// will do, none within 10 s is fatal. Newest version: `HF-A11ASSISTHREAD`; `+ok` (no read);
/// `AT+LVER\n`; `AT+MID\n`; `AT+WRMID=<mid>\n`; `AT+MID\n`; `AT+WSSSID=<ssid>\r`;
/// `AT+WSKEY=WPA2PSK,AES,<pwd>\n`; `AT+WMODE=STA\n`; `AT+Z\n` (no read).
#[tokio::test]
async fn go_orvibo_s20_pairing() {
    let plug = start(ap(129)).await;
    let conn = bind_udp(Ipv4Addr::LOCALHOST, 0, false);
    conn.connect(udp_of(&plug, ip(129))).await.expect("DialUDP");

    async fn send_rcv(conn: &UdpSocket, b: &[u8]) -> Vec<u8> {
        conn.send(b).await.unwrap_or_else(|e| panic!("conn.Write({}): {e}", show(b)));
        recv_connected(conn, 1024).await
    }

    let reply = send_rcv(&conn, b"HF-A11ASSISTHREAD").await;
    assert_eq!(text(&reply).split(',').count(), 3, "{}", show(&reply));
    conn.send(b"+ok").await.expect("send(okReply)");
    // AT+LVER and AT+WRMID are not HF-LPB100 commands the emulator has: -2 is still a reply
    assert_eq!(at_reply(&send_rcv(&conn, b"AT+LVER\n").await), "+ERR=-2");
    assert_eq!(at_reply(&send_rcv(&conn, b"AT+MID\n").await), "+ok=HF-LPB100");
    assert_eq!(at_reply(&send_rcv(&conn, b"AT+WRMID=Orvibo-S20\n").await), "+ERR=-2");
    assert_eq!(at_reply(&send_rcv(&conn, b"AT+MID\n").await), "+ok=HF-LPB100");
    // mixed terminators in one session
    for cmd in
        [&b"AT+WSSSID=HomeNet\r"[..], b"AT+WSKEY=WPA2PSK,AES,correct horse battery\n", b"AT+WMODE=STA\n"]
    {
        assert_eq!(at_reply(&send_rcv(&conn, cmd).await), "+ok", "{}", show(cmd));
    }
    conn.send(b"AT+Z\n").await.expect("send(sendRST)");
    let status = wait_rebooted(&plug, 1).await;
    assert_eq!(status.link, Link::Station { ssid: HOME_SSID.into() });
    assert_eq!(status.addresses, vec![ip(130)]);
}

/// s10l/deye-logger-at-cmd `src/main.go` run as `-xc HF-A11ASSISTHREAD` (Go; hf-protocol.md
/// §4, §3.2, §3.4, §3.7, §5): `net.DialUDP` (connected, ephemeral port); every step is
/// write, **1 s pause**, then one `Read` into 1500 bytes and `strings.TrimSpace`: the
/// password; `+ok` (no read); `AT+WAP\n`, `AT+WAKEY\n`, `AT+WSSSID\n`, `AT+WSKEY\n`,
/// `AT+WANN\n`, `AT+WEBU\n`; `AT+Q\n` (no read). Its default code `WIFIKIT-214028-READ` is
/// another vendor's and gets no answer.
#[tokio::test]
async fn deye_logger_at_cmd() {
    let plug = start(sta(131)).await;
    let conn = bind_udp(Ipv4Addr::LOCALHOST, 0, false);
    conn.connect(udp_of(&plug, ip(131))).await.expect("DialUDP");

    /// `send(conn, message, 1, 5, response)`: the raw reply, if one is read.
    async fn deye_send(conn: &UdpSocket, message: &[u8], response: bool) -> Option<Vec<u8>> {
        conn.send(message).await.unwrap_or_else(|e| panic!("fmt.Fprint({}): {e}", show(message)));
        tokio::time::sleep(Duration::from_secs(1)).await;
        if response {
            Some(recv_connected(conn, 1500).await)
        } else {
            None
        }
    }

    /// An AT query through `send`, framing checked, then `receive()`'s `strings.TrimSpace`.
    async fn deye_at(conn: &UdpSocket, cmd: &[u8]) -> String {
        let raw = deye_send(conn, cmd, true).await.unwrap_or_else(|| panic!("a response to {}", show(cmd)));
        at_reply(&raw);
        text(&raw).trim().to_string()
    }

    // the default code: silence (the tool would log.Fatal after its 5 s read deadline);
    // the reply to the password sent next is the first datagram
    conn.send(b"WIFIKIT-214028-READ").await.expect("write");
    let hello = deye_send(&conn, b"HF-A11ASSISTHREAD", true).await.expect("a response");
    let mac = plug.mac().to_string();
    assert_eq!(text(&hello).trim(), format!("{},{mac},HF-LPB100", ip(131)));

    deye_send(&conn, b"+ok", false).await;
    let ap_ssid = deye_at(&conn, b"AT+WAP\n").await;
    let ap_enc = deye_at(&conn, b"AT+WAKEY\n").await;
    let sta_ssid = deye_at(&conn, b"AT+WSSSID\n").await;
    let sta_key = deye_at(&conn, b"AT+WSKEY\n").await;
    let sta_ip = deye_at(&conn, b"AT+WANN\n").await;
    let web_user = deye_at(&conn, b"AT+WEBU\n").await;
    deye_send(&conn, b"AT+Q\n", false).await;

    // removeAtOk(): strings.Replace(response, "+ok=", "", 1)
    let value = |r: &str| r.strip_prefix("+ok=").unwrap_or_else(|| panic!("not +ok=: {r:?}")).to_string();
    assert_eq!(value(&ap_ssid), format!("11BGN,Reco{},CH1", plug.serial()));
    assert_eq!(value(&ap_enc).split(',').count(), 3, "{ap_enc:?}");
    assert_eq!(value(&sta_ssid), "HomeNet");
    assert_eq!(value(&sta_key), "WPA2PSK,AES,correct horse battery", "the home key in clear (§3.7)");
    assert_eq!(value(&sta_ip), format!("DHCP,{},255.0.0.0,127.0.0.1", ip(131)));
    assert_eq!(value(&web_user), "ADMIN,ADMIN");
}

/// poldy79/ghoma2mqtt `configure.py` (Python 2; hf-protocol.md §4, §3.2, §3.4): a mock of the
/// HF-LPB100 set-up that the G-Homa app accepts, so it shows what the app sends: a first
/// broadcast datagram (the assist password, §3.2), `+ok`, `AT+WSCAN\r`, `AT+WSSSID=<ssid>\r`,
/// `AT+WSKEY=wpa2psk,aes,<password>\r` (lower case); the rest is not recorded.
#[tokio::test]
async fn ghoma2mqtt_g_homa_app() {
    let fleet = broadcast_fleet(ip(133), 1, StartMode::Ap, ReplyCopy::Off, 133).await;
    let plug = member(&fleet, 0);
    let bcast = broadcast_to(&fleet);
    let app = bind_udp(Ipv4Addr::UNSPECIFIED, 0, true);

    send_to(&app, b"HF-A11ASSISTHREAD", bcast).await;
    let (m, from) = recv_dgram(&app, 1024).await;
    assert_eq!(IpAddr::V4(ip(133)), from.ip());
    assert_eq!(text(&m), format!("{},{},HF-LPB100", ip(133), plug.mac()));
    send_to(&app, b"+ok", bcast).await;
    send_to(&app, b"AT+WSCAN\r", bcast).await;
    let (scan, _) = recv_dgram(&app, 4096).await;
    at_reply(&scan);
    let nets = parse_wscan(&scan).unwrap_or_else(|e| panic!("WSCAN table: {e}: {}", show(&scan)));
    assert!(nets.iter().any(|n| n.ssid == "HomeNet" && n.security.to_string() == "WPA2PSK/AES"), "{nets:?}");
    send_to(&app, b"AT+WSSSID=HomeNet\r", bcast).await;
    assert_eq!(at_reply(&recv_dgram(&app, 1024).await.0), "+ok");
    send_to(&app, b"AT+WSKEY=wpa2psk,aes,correct horse battery\r", bcast).await;
    assert_eq!(at_reply(&recv_dgram(&app, 1024).await.0), "+ok");
    let d = plug.device().lock().expect("plug state lock");
    assert_eq!(d.ssid(), "HomeNet");
    assert_eq!(d.wifi_key().to_value(), "WPA2PSK,AES,correct horse battery", "lower-case keywords accepted");
}

/// adelomer12/aoboet-local `usr_at_query.py --show-secrets` (Python 3; hf-protocol.md §4,
/// §1.3, §3.2, §3.4): socket on `("", 0)`; tries the passwords `www.usr.cn` then
/// `HF-A11ASSISTHREAD`, keeping the first reply containing `,`; `+ok`; then each query as
/// `AT+XXX\r`. Every read is `recv_burst`: datagrams until **0.3 s of silence** after the
/// first, or the timeout (2 s; 0.5 s after `+ok`, where “most firmwares stay silent”).
#[tokio::test]
async fn aoboet_usr_at_query() {
    let plug = start(sta(135)).await;
    let target = udp_of(&plug, ip(135));
    let sock = bind_udp(Ipv4Addr::UNSPECIFIED, 0, false);

    /// `recv_burst(sock, timeout)`, joined; the first datagram may take `first`.
    async fn recv_burst(sock: &UdpSocket, first: Duration) -> (usize, Vec<u8>) {
        let Some((mut all, from)) = recv_within(sock, 2048, first).await else { return (0, Vec::new()) };
        assert_eq!(from.ip(), IpAddr::V4(ip(135)));
        let mut n = 1;
        while let Some((more, _)) = recv_within(sock, 2048, Duration::from_millis(300)).await {
            all.extend(more);
            n += 1;
        }
        (n, all)
    }

    // handshake(): www.usr.cn gets no reply within the 2 s timeout (silence: not a timing
    // assertion), HF-A11ASSISTHREAD does
    send_to(&sock, b"www.usr.cn", target).await;
    assert_eq!(recv_burst(&sock, Duration::from_secs(2)).await.0, 0, "www.usr.cn was answered");
    send_to(&sock, b"HF-A11ASSISTHREAD", target).await;
    let (n, ident) = recv_burst(&sock, GUARD).await;
    assert_eq!(n, 1, "one datagram: {}", show(&ident));
    assert!(text(&ident).trim().contains(','), "{}", show(&ident));

    send_to(&sock, b"+ok", target).await;
    assert_eq!(recv_burst(&sock, Duration::from_millis(500)).await.0, 0, "+ok must stay unanswered");

    // QUERIES + SECRET_QUERIES; the emulator knows the HF-LPB100 commands of hf-protocol.md
    // §5.3 and answers the others -2, which this read-only tool just prints
    let queries: [(&[u8], bool); 17] = [
        (b"AT+VER\r", true),
        (b"AT+MID\r", true),
        (b"AT+WMODE\r", true),
        (b"AT+WSSSID\r", true),
        (b"AT+WSLK\r", true),
        (b"AT+WANN\r", true),
        (b"AT+TMODE\r", false),
        (b"AT+UART\r", true),
        (b"AT+NETP\r", true),
        (b"AT+TCPLK\r", false),
        (b"AT+TCPTO\r", true),
        (b"AT+TCPB\r", false),
        (b"AT+SOCKB\r", false),
        (b"AT+TCPLKB\r", false),
        (b"AT+REGEN\r", false),
        (b"AT+WEBU\r", true),
        (b"AT+WSKEY\r", true),
    ];
    for (cmd, known) in queries {
        send_to(&sock, cmd, target).await;
        let (n, resp) = recv_burst(&sock, GUARD).await;
        assert_eq!(n, 1, "one datagram per reply to {}: {}", show(cmd), show(&resp));
        let body = at_reply(&resp);
        if known {
            assert!(body.starts_with("+ok="), "{}: {}", show(cmd), show(&resp));
        } else {
            assert_eq!(body, "+ERR=-2", "{}", show(cmd));
        }
    }
}

/// The GrillSense protocol document (unattributed; HF-LPT230 “verified commands”;
/// hf-protocol.md §4, §3.2, §3.4, §4.1 item 8): every session starts with the full handshake
/// (`HF-A11ASSISTHREAD` → `<ip>,<MAC upper case, no separators>,<model>`, then `+ok`) and
/// commands end with `\r\n`; the AP-mode reconfiguration sends `AT+WSSSID=`, `AT+WSKEY=`,
/// `AT+NETP=UDP,CLIENT,17000,smartserver.emaxtime.cn`, `AT+WMODE=STA`, `AT+Z`, expecting `+ok`
/// to each.
#[tokio::test]
async fn grillsense_doc_client() {
    let plug = start(ap(137)).await;
    let to = udp_of(&plug, ip(137));

    async fn handshake(sock: &UdpSocket, to: SocketAddr, mac: &str) {
        send_to(sock, b"HF-A11ASSISTHREAD", to).await;
        let (r, _) = recv_dgram(sock, 1024).await;
        let f: Vec<&str> = text(&r).split(',').collect();
        assert_eq!(f.len(), 3, "<ip>,<mac>,<model>: {}", show(&r));
        assert_eq!(f[1], mac, "MAC upper case without separators");
        assert!(f[1].bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        send_to(sock, b"+ok", to).await;
    }
    let mac = plug.mac().to_string();

    // the verified read commands, one session
    let s = bind_udp(Ipv4Addr::UNSPECIFIED, 0, false);
    handshake(&s, to, &mac).await;
    let reads: [(&[u8], String); 7] = [
        (b"AT+WSMAC\r\n", format!("+ok={mac}")),
        (b"AT+WSSSID\r\n", "+ok=".to_string()),
        (b"AT+WSKEY\r\n", "+ok=OPEN,NONE".to_string()),
        (b"AT+NETP\r\n", format!("+ok=TCP,Server,{},{}", plug.ports().control, ip(137))),
        (b"AT+WMODE\r\n", "+ok=AP".to_string()),
        (b"AT+UART\r\n", "+ok=115200,8,1,None,NFC".to_string()),
        (b"AT+TCPTO\r\n", "+ok=300".to_string()),
    ];
    for (cmd, want) in reads {
        send_to(&s, cmd, to).await;
        assert_eq!(at_reply(&recv_dgram(&s, 1024).await.0), want, "{}", show(cmd));
    }
    send_to(&s, b"AT+VER\r\n", to).await;
    assert!(at_reply(&recv_dgram(&s, 1024).await.0).starts_with("+ok="));

    // the reconfiguration, a new session
    let s = bind_udp(Ipv4Addr::UNSPECIFIED, 0, false);
    handshake(&s, to, &mac).await;
    let steps: [(&[u8], &str); 4] = [
        (b"AT+WSSSID=HomeNet\r\n", "+ok"),
        (b"AT+WSKEY=WPA2PSK,AES,correct horse battery\r\n", "+ok"),
        // the HF-LPT230 takes a new socket A; the Reco plug's TCP 8899 depends on it, so the
        // emulator refuses to change it (hf-protocol.md §3.3, §5.3)
        (b"AT+NETP=UDP,CLIENT,17000,smartserver.emaxtime.cn\r\n", "+ERR=-5"),
        (b"AT+WMODE=STA\r\n", "+ok"),
    ];
    for (cmd, want) in steps {
        send_to(&s, cmd, to).await;
        assert_eq!(at_reply(&recv_dgram(&s, 1024).await.0), want, "{}", show(cmd));
    }
    // the LPT230 answers AT+Z with +ok; the emulator follows the silent plugs of §3.3
    send_to(&s, b"AT+Z\r\n", to).await;
    let status = wait_rebooted(&plug, 1).await;
    assert_eq!(status.link, Link::Station { ssid: HOME_SSID.into() });
    send_to(&s, b"YZ-RECOSCAN", udp_of(&plug, ip(138))).await;
    let (probe, from) = recv_dgram(&s, 1024).await;
    assert_eq!(from, udp_of(&plug, ip(138)), "AT+Z was answered: {}", show(&probe));
    // TCP control kept working: NETP was not changed
    let r = one_shot(control_of(&plug, ip(138)), b"AT+YZOUT\r\n", 512).await;
    assert!(text(&r).starts_with("+ok="), "{}", show(&r));
}

/// The LED bulb protocol notes (unattributed, Magic Home / `HF-LPB100-ZJ200`; hf-protocol.md
/// §4, §3.2, §3.4): the app sends `HF-A11ASSISTHREAD`, answers `+ok` (“after which no
/// response is received”), then `AT+WMODE\n`, `AT+WSLK\n` (`+ok=<SSID>(<AA:BB:CC:DD:EE:FF>)`),
/// `AT+WSSSID\n`, `AT+WSKEY\n`, and `WAP\n`, `WAKEY\n`, `Z\n`, `Q\n` (the `AT+` verbs).
#[tokio::test]
async fn led_bulb_protocol_notes() {
    let plug = start(sta(139)).await;
    let to = udp_of(&plug, ip(139));
    let app = bind_udp(Ipv4Addr::UNSPECIFIED, 0, false);

    send_to(&app, b"HF-A11ASSISTHREAD", to).await;
    let (hello, _) = recv_dgram(&app, 1024).await;
    assert_eq!(text(&hello).split(',').count(), 3, "{}", show(&hello));
    send_to(&app, b"+ok", to).await;

    send_to(&app, b"AT+WMODE\n", to).await;
    assert_eq!(at_reply(&recv_dgram(&app, 1024).await.0), "+ok=STA");
    send_to(&app, b"AT+WSLK\n", to).await;
    let (wslk, _) = recv_dgram(&app, 1024).await;
    let v = at_reply(&wslk).strip_prefix("+ok=HomeNet(").and_then(|v| v.strip_suffix(')'));
    let bssid = v.unwrap_or_else(|| panic!("+ok=<SSID>(<MAC>): {}", show(&wslk)));
    assert!(bssid.len() == 17 && bssid.split(':').all(|b| b.len() == 2), "AA:BB:CC:DD:EE:FF: {bssid:?}");
    send_to(&app, b"AT+WSSSID\n", to).await;
    assert_eq!(at_reply(&recv_dgram(&app, 1024).await.0), "+ok=HomeNet");
    send_to(&app, b"AT+WSKEY\n", to).await;
    assert_eq!(at_reply(&recv_dgram(&app, 1024).await.0), "+ok=WPA2PSK,AES,correct horse battery");
    send_to(&app, b"AT+WAP\n", to).await;
    assert!(at_reply(&recv_dgram(&app, 1024).await.0).starts_with("+ok=11BGN,"));
    send_to(&app, b"AT+WAKEY\n", to).await;
    assert!(at_reply(&recv_dgram(&app, 1024).await.0).starts_with("+ok=WPA2PSK,AES,"));
    // Z then Q, as listed: the reboot swallows Q
    send_to(&app, b"AT+Z\n", to).await;
    send_to(&app, b"AT+Q\n", to).await;
    let status = wait_rebooted(&plug, 1).await;
    assert_eq!((status.link, status.addresses), (Link::Station { ssid: HOME_SSID.into() }, vec![ip(139)]));
    send_to(&app, b"YZ-RECOSCAN", to).await;
    let (probe, _) = recv_dgram(&app, 1024).await;
    assert!(text(&probe).starts_with(&format!("{},", ip(139))), "Z or Q was answered: {}", show(&probe));
}

/// The decompiled Hi-Flying SmartLink v3 SDK (`com.hiflying.smartlink.v3.SnifferSmartLinker`;
/// hf-protocol.md §4, §1.4, §3.5): a `DatagramSocket(49999)` with broadcast on; its find
/// thread broadcasts `smartlinkfind` to 48899 (20×, 1 s apart) and the class can also send
/// `HF-A11ASSISTHREAD` there; its receiver only keeps datagrams containing `smart_config`.
#[tokio::test]
async fn hiflying_smartlink_v3_find() {
    let fleet = broadcast_fleet(ip(141), 1, StartMode::Sta, ReplyCopy::Off, 141).await;
    let plug = member(&fleet, 0);
    let bcast = broadcast_to(&fleet);
    let socket = bind_udp(Ipv4Addr::UNSPECIFIED, 0, true); // DatagramSocket(49999), free port

    for _ in 0..3 {
        send_to(&socket, b"smartlinkfind", bcast).await; // sendFindCmd, no answer
    }
    send_to(&socket, b"HF-A11ASSISTHREAD", bcast).await; // sendHFA11Cmd
    let (first, from) = recv_dgram(&socket, 1024).await;
    // the first datagram answers the password: smartlinkfind got nothing
    assert_eq!(text(&first), format!("{},{},HF-LPB100", ip(141), plug.mac()));
    assert_eq!(from, udp_of(plug, ip(141)));
    // (the SDK's receiver would drop it: no "smart_config" in it)
    assert!(!text(&first).contains("smart_config"));
}
