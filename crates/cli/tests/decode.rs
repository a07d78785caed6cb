//! End to end: `plugctl decode`. Real emulator traffic is recorded by a TCP/UDP proxy on
//! loopback while `plugctl` commands run through it, written into pcap and pcapng files with
//! synthesized Ethernet / loopback, IPv4, TCP and UDP headers (one reply split into segments
//! written out of order), and decoded by the binary. Plus the published byte vectors of
//! kasa-protocol.md §2.2 through `plugctl decode HEX`, and the error exits.

mod common;

use std::{
    collections::HashMap,
    io::{Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    thread,
    time::{SystemTime, UNIX_EPOCH},
};

use common::{plugctl, Emulator, Run};
use plugctl_capture::{
    writer::{link_frame, udp_packet, PcapWriter, PcapngWriter, TcpFlow},
    LinkType, Timestamp,
};
use plugctl_proto::kasa::{datagram, frame::FrameDecoder, frame::FrameEvent, DEFAULT_MAX_FRAME};
use serde_json::{json, Value};

// ---- a recording proxy ------------------------------------------------------------------

/// What the proxy saw, in order.
#[derive(Debug, Clone)]
enum Rec {
    /// A client connected; `server` is the address the capture will show for the plug.
    Open { conn: usize, client: SocketAddr, server: SocketAddr, time: Timestamp },
    /// Bytes one side sent (one `read`).
    Data { conn: usize, from_client: bool, bytes: Vec<u8>, time: Timestamp },
    /// One side closed its sending half.
    Fin { conn: usize, from_client: bool, time: Timestamp },
    /// A datagram between a client and the plug at `server`.
    Udp { client: SocketAddr, server: SocketAddr, from_client: bool, bytes: Vec<u8>, time: Timestamp },
}

type Log = Arc<Mutex<Vec<Rec>>>;

fn now() -> Timestamp {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    Timestamp::new(d.as_secs() as i64, u64::from(d.subsec_nanos()))
}

static CONN: AtomicUsize = AtomicUsize::new(0);

/// Listens on 127.0.0.1:0, forwards every connection to `upstream`, records every read.
fn tcp_proxy(upstream: SocketAddr, server_as: SocketAddr, log: Log) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { break };
            let Ok(up) = TcpStream::connect(upstream) else { continue };
            let conn = CONN.fetch_add(1, Ordering::SeqCst);
            let peer = client.peer_addr().expect("peer");
            log.lock().unwrap().push(Rec::Open { conn, client: peer, server: server_as, time: now() });
            let (c2, u2) = (client.try_clone().expect("clone"), up.try_clone().expect("clone"));
            let (l1, l2) = (log.clone(), log.clone());
            thread::spawn(move || pump(client, up, conn, true, l1));
            thread::spawn(move || pump(u2, c2, conn, false, l2));
        }
    });
    port
}

/// Copies `from` to `to`, recording each read before forwarding it.
fn pump(mut from: TcpStream, mut to: TcpStream, conn: usize, from_client: bool, log: Log) {
    let mut buf = vec![0u8; 65536];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                log.lock().unwrap().push(Rec::Fin { conn, from_client, time: now() });
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                log.lock().unwrap().push(Rec::Data {
                    conn,
                    from_client,
                    bytes: buf[..n].to_vec(),
                    time: now(),
                });
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// A UDP socket on 127.0.0.1:0 relaying datagrams to `upstream` and the answers back.
fn udp_proxy(upstream: SocketAddr, server_as: SocketAddr, log: Log) -> u16 {
    let front = UdpSocket::bind("127.0.0.1:0").expect("bind proxy");
    let port = front.local_addr().expect("addr").port();
    thread::spawn(move || {
        let mut uplinks: HashMap<SocketAddr, UdpSocket> = HashMap::new();
        let mut buf = vec![0u8; 65536];
        while let Ok((n, client)) = front.recv_from(&mut buf) {
            let bytes = buf[..n].to_vec();
            log.lock().unwrap().push(Rec::Udp {
                client,
                server: server_as,
                from_client: true,
                bytes,
                time: now(),
            });
            let up = uplinks.entry(client).or_insert_with(|| {
                let up = UdpSocket::bind("127.0.0.1:0").expect("bind uplink");
                up.connect(upstream).expect("connect uplink");
                let (back, front, log) =
                    (up.try_clone().expect("clone"), front.try_clone().expect("clone"), log.clone());
                thread::spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = back.recv(&mut buf) {
                        let bytes = buf[..n].to_vec();
                        log.lock().unwrap().push(Rec::Udp {
                            client,
                            server: server_as,
                            from_client: false,
                            bytes: bytes.clone(),
                            time: now(),
                        });
                        let _ = front.send_to(&bytes, client);
                    }
                });
                up
            });
            let _ = up.send(&buf[..n]);
        }
    });
    port
}

// ---- from the recording to capture files --------------------------------------------------

/// The packets of the recording, with their times. Replies longer than 300 bytes are cut
/// into three segments written in the order 3, 1, 2.
fn packets(log: &[Rec]) -> Vec<(Timestamp, Vec<u8>)> {
    let mut flows: HashMap<usize, TcpFlow> = HashMap::new();
    let mut out = Vec::new();
    for rec in log {
        match rec {
            Rec::Open { conn, client, server, time } => {
                let isn = (*conn as u32).wrapping_mul(0x1000_0000).wrapping_sub(500);
                let mut f = TcpFlow::new(*client, *server, isn, isn ^ 0xdead_beef);
                out.extend(f.handshake().expect("handshake").into_iter().map(|p| (*time, p)));
                flows.insert(*conn, f);
            }
            Rec::Data { conn, from_client, bytes, time } => {
                let f = flows.get_mut(conn).expect("opened");
                if !from_client && bytes.len() > 300 {
                    let mut segs = f.send(false, bytes, bytes.len() / 3 + 1).expect("segments");
                    segs.rotate_right(1);
                    out.extend(segs.into_iter().map(|p| (*time, p)));
                } else {
                    out.push((*time, f.segment(*from_client, bytes).expect("segment")));
                }
            }
            Rec::Fin { conn, from_client, time } => {
                let f = flows.get_mut(conn).expect("opened");
                out.push((*time, f.fin(*from_client).expect("fin")));
            }
            Rec::Udp { client, server, from_client, bytes, time } => {
                let (src, dst) = if *from_client { (*client, *server) } else { (*server, *client) };
                out.push((*time, udp_packet(src, dst, bytes).expect("udp")));
            }
        }
    }
    out
}

fn write_pcap(packets: &[(Timestamp, Vec<u8>)], link: LinkType) -> Vec<u8> {
    let mut w = PcapWriter::new(link);
    for (t, p) in packets {
        w.packet(*t, &link_frame(link, p).expect("link"));
    }
    w.into_bytes()
}

fn write_pcapng(packets: &[(Timestamp, Vec<u8>)], link: LinkType) -> Vec<u8> {
    let mut w = PcapngWriter::new();
    let i = w.interface(link);
    for (t, p) in packets {
        w.packet(i, *t, &link_frame(link, p).expect("link"));
    }
    w.into_bytes()
}

/// Writes `bytes` to a fresh file under the test's temporary directory.
fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{}-{name}", N.fetch_add(1, Ordering::SeqCst)));
    std::fs::write(&path, bytes).expect("write capture");
    path
}

fn decode_json(path: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["decode", "--pcap", path.to_str().expect("utf-8 path"), "--json"];
    args.extend_from_slice(extra);
    plugctl(&args).json_lines()
}

/// Frames of a byte stream, decrypted and parsed, independently of the code under test.
fn frames(stream: &[u8]) -> Vec<Value> {
    let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME);
    d.push(stream);
    let mut out = Vec::new();
    while let Ok(Some(FrameEvent::Frame(p))) = d.next_event() {
        out.push(serde_json::from_slice(&p).expect("emulator traffic is JSON"));
    }
    out
}

/// The Kasa TCP exchanges the recording holds: per connection, request i with reply i.
fn expected_kasa_tcp(log: &[Rec]) -> Vec<(Value, Value)> {
    let mut conns: Vec<usize> = Vec::new();
    let mut streams: HashMap<(usize, bool), Vec<u8>> = HashMap::new();
    for rec in log {
        match rec {
            Rec::Open { conn, .. } => conns.push(*conn),
            Rec::Data { conn, from_client, bytes, .. } => {
                streams.entry((*conn, *from_client)).or_default().extend(bytes)
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for c in conns {
        let req = frames(streams.get(&(c, true)).map_or(&[][..], Vec::as_slice));
        let rep = frames(streams.get(&(c, false)).map_or(&[][..], Vec::as_slice));
        assert_eq!(req.len(), rep.len(), "every request answered");
        out.extend(req.into_iter().zip(rep));
    }
    out
}

fn tcp_records(log: &[Rec]) -> usize {
    log.iter().filter(|r| matches!(r, Rec::Data { .. })).count()
}

// ---- Kasa ---------------------------------------------------------------------------------

/// Runs `state`, `off` and a unicast discovery through proxies in front of an emulated
/// HS110; returns the recording and the plug's address.
fn record_kasa() -> (Vec<Rec>, SocketAddr, Value) {
    let emu = Emulator::kasa(&["--model", "hs110-hw4"], 1);
    let d = emu.first();
    let ip: std::net::IpAddr = d.host.parse().expect("ip");
    let upstream = SocketAddr::new(ip, d.port);
    let log: Log = Arc::default();
    let shown = SocketAddr::new(ip, 9999);
    let tp = tcp_proxy(upstream, shown, log.clone());
    let up = udp_proxy(upstream, shown, log.clone());
    let target = format!("127.0.0.1:{tp}");
    let state = plugctl(&["state", &target, "--family", "kasa", "--json"]).json();
    assert_eq!(state["on"], true);
    assert_eq!(plugctl(&["off", &target, "--family", "kasa", "--json"]).json()["on"], false);
    let found = plugctl(&[
        "discover",
        "--target",
        "127.0.0.1",
        "--port",
        &up.to_string(),
        "--family",
        "kasa",
        "--timeout",
        "1",
        "--json",
    ])
    .json_lines();
    assert_eq!(found.len(), 1, "{found:?}");
    // Let the proxy threads record the closing FINs.
    thread::sleep(std::time::Duration::from_millis(200));
    let log = log.lock().unwrap().clone();
    (log, shown, d.info.clone())
}

#[test]
fn kasa_traffic_through_a_recording_proxy_decodes_from_pcap_and_pcapng() {
    let (log, plug, info) = record_kasa();
    let want_tcp = expected_kasa_tcp(&log);
    assert!(want_tcp.len() >= 3, "state and off make several requests: {want_tcp:#?}");
    assert!(want_tcp.iter().any(|(_, rep)| rep.to_string().len() > 300), "a reply long enough to split");
    let pkts = packets(&log);
    for (name, bytes) in [
        ("kasa.pcap", write_pcap(&pkts, LinkType::ETHERNET)),
        ("kasa.pcapng", write_pcapng(&pkts, LinkType::NULL)),
    ] {
        let path = temp_file(name, &bytes);
        let lines = decode_json(&path, &[]);
        let tcp: Vec<&Value> = lines.iter().filter(|l| l["transport"] == "kasa-tcp").collect();
        let got: Vec<(Value, Value)> =
            tcp.iter().map(|l| (l["request"]["json"].clone(), l["reply"]["json"].clone())).collect();
        assert_eq!(got, want_tcp, "{name}");
        for l in &tcp {
            assert_eq!(l["server"], plug.to_string(), "{name}");
            assert!(l["client"].as_str().unwrap().starts_with("127.0.0.1:"), "{l}");
            let t = l["time"].as_str().unwrap();
            assert!(t.len() == 27 && t.ends_with('Z') && t.as_bytes()[19] == b'.', "ISO-8601 with µs: {t}");
            assert_eq!(l["request"]["time"], l["time"]);
            assert!(l["reply"]["hex"].as_str().unwrap().starts_with("0000"), "{l}");
            // Long replies were written as segments 3, 1, 2: the first byte is two packets
            // after the request.
            let (req, rep) =
                (l["request"]["packet"].as_u64().unwrap(), l["reply"]["packet"].as_u64().unwrap());
            let split = l["reply"]["hex"].as_str().unwrap().len() / 2 > 300;
            assert_eq!(rep, if split { req + 2 } else { req + 1 }, "{l}");
        }
        // The switch, and the plug's own name in its sysinfo.
        assert!(got.iter().any(|(req, rep)| req["system"]["set_relay_state"]["state"] == 0
            && rep["system"]["set_relay_state"]["err_code"] == 0));
        assert!(got.iter().any(|(_, rep)| rep["system"]["get_sysinfo"]["alias"] == info["alias"]));

        // UDP discovery: the query and the plug's answer.
        let udp: Vec<&Value> = lines.iter().filter(|l| l["transport"] == "kasa-udp").collect();
        assert!(!udp.is_empty(), "{lines:#?}");
        for l in &udp {
            assert_eq!(l["request"]["json"], json!({"system":{"get_sysinfo":{}}}), "{l}");
            assert_eq!(l["reply"]["json"]["system"]["get_sysinfo"]["mac"], info["mac"], "{l}");
            assert_eq!(l["server"], plug.to_string());
        }
        assert_eq!(lines.len(), tcp.len() + udp.len());

        // The human form: one block per exchange, and a summary.
        let text = plugctl(&["decode", "--pcap", path.to_str().unwrap()]).ok().to_string();
        let arrow = format!(" → {plug}  kasa-tcp");
        assert_eq!(text.matches(&arrow).count(), tcp.len(), "{text}");
        assert_eq!(text.matches(&format!(" → {plug}  kasa-udp")).count(), udp.len(), "{text}");
        assert!(text.contains("  request  {\"system\":{\"get_sysinfo\""), "{text}");
        assert!(text.contains("  reply    {\"system\":{\"set_relay_state\":{\"err_code\":0}}}"), "{text}");
        assert!(text.contains(" ms)"), "latency shown: {text}");
        let summary = text.trim_end().lines().last().unwrap();
        assert!(summary.starts_with(&format!("{} exchanges (", lines.len())), "{summary}");
        assert!(summary.contains("kasa-tcp") && summary.contains("kasa-udp"), "{summary}");
        assert!(tcp_records(&log) > 0);
    }
}

#[test]
fn other_ports_need_port_overrides() {
    let emu = Emulator::kasa(&["--model", "hs100-hw2"], 1);
    let d = emu.first();
    let upstream = SocketAddr::new(d.host.parse().expect("ip"), d.port);
    let log: Log = Arc::default();
    // The capture shows the plug on its real (random) port, not 9999.
    let tp = tcp_proxy(upstream, upstream, log.clone());
    let target = format!("127.0.0.1:{tp}");
    plugctl(&["state", &target, "--family", "kasa", "--json"]).ok();
    thread::sleep(std::time::Duration::from_millis(100));
    let log = log.lock().unwrap().clone();
    let path = temp_file("other.pcapng", &write_pcapng(&packets(&log), LinkType::LINUX_SLL2));
    let p = path.to_str().unwrap();

    let text = plugctl(&["decode", "--pcap", p]).ok().to_string();
    assert!(text.starts_with("no Kasa or Hi-Flying traffic in "), "{text}");
    assert!(text.contains("--port"), "{text}");
    assert!(plugctl(&["decode", "--pcap", p, "--json"]).ok().is_empty());

    let port = d.port.to_string();
    let lines = decode_json(&path, &["--port", "9999", "--port", &port]);
    assert_eq!(lines.len(), expected_kasa_tcp(&log).len());
    assert!(lines.iter().all(|l| l["server"] == upstream.to_string() && l["transport"] == "kasa-tcp"));
}

// ---- Hi-Flying ----------------------------------------------------------------------------

#[test]
fn hi_flying_at_lines_and_recoscan_show_as_text() {
    let emu = Emulator::hf(&[], 1);
    let d = emu.first();
    let ip: std::net::IpAddr = d.host.parse().expect("ip");
    let udp_port: u16 = d.udp_port().parse().expect("port");
    let log: Log = Arc::default();
    let (ctl, disc) = (SocketAddr::new(ip, 8899), SocketAddr::new(ip, 48899));
    let tp = tcp_proxy(SocketAddr::new(ip, d.port), ctl, log.clone());
    let up = udp_proxy(SocketAddr::new(ip, udp_port), disc, log.clone());
    let target = format!("127.0.0.1:{tp}");
    let flags = ["--family", "hf", "--udp-port", &up.to_string()];
    let on = plugctl(&[&["on", target.as_str(), "--json"][..], &flags].concat()).json();
    assert_eq!(on["on"], true);
    plugctl(&[&["energy", target.as_str(), "--json"][..], &flags].concat()).json();
    let found = plugctl(&[
        "discover",
        "--family",
        "hf",
        "--target",
        "127.0.0.1",
        "--hf-port",
        &up.to_string(),
        "--hf-control-port",
        &tp.to_string(),
        "--timeout",
        "1",
        "--json",
    ])
    .json_lines();
    assert_eq!(found.len(), 1);
    thread::sleep(std::time::Duration::from_millis(200));
    let log = log.lock().unwrap().clone();
    let pkts = packets(&log);
    for (name, bytes) in [
        ("hf.pcap", write_pcap(&pkts, LinkType::ETHERNET)),
        ("hf.pcapng", write_pcapng(&pkts, LinkType::ETHERNET)),
    ] {
        let path = temp_file(name, &bytes);
        let lines = decode_json(&path, &[]);
        let text_of = |l: &Value, k: &str| l[k]["text"].as_str().unwrap_or_default().to_string();
        let tcp: Vec<(String, String)> = lines
            .iter()
            .filter(|l| l["transport"] == "hf-tcp")
            .map(|l| (text_of(l, "request"), text_of(l, "reply")))
            .collect();
        assert!(tcp.iter().any(|(q, a)| q.starts_with("AT+YZSWITCH=1,ON") && a == "+ok"), "{name}: {tcp:#?}");
        assert!(tcp.iter().any(|(q, a)| q == "AT+YZOUT" && a.starts_with("+ok=")), "{name}: {tcp:#?}");
        assert!(lines.iter().filter(|l| l["transport"] == "hf-tcp").all(|l| l["server"] == ctl.to_string()));
        let udp: Vec<(String, String)> = lines
            .iter()
            .filter(|l| l["transport"] == "hf-udp")
            .map(|l| (text_of(l, "request"), text_of(l, "reply")))
            .collect();
        let mac = d.info["mac"].as_str().expect("mac");
        assert!(udp.iter().any(|(q, a)| q == "YZ-RECOSCAN" && a.contains(mac)), "{name}: {udp:#?}");

        let text = plugctl(&["decode", "--pcap", path.to_str().unwrap()]).ok().to_string();
        assert!(text.contains(&format!(" → {ctl}  hf-tcp")), "{text}");
        assert!(text.contains("  request  AT+YZOUT\n"), "{text}");
        assert!(text.contains(&format!(" → {disc}  hf-udp")), "{text}");
        assert!(text.contains("  request  YZ-RECOSCAN\n"), "{text}");
    }
}

// ---- plugctl decode HEX -------------------------------------------------------------------

const GET_SYSINFO_FRAME: &str = "00 00 00 1d d0 f2 81 f8 8b ff 9a f7 d5 ef 94 b6 d1 b4 c0 9f \
                                 ec 95 e6 8f e1 87 e8 ca f0 8b f6 8b f6";
const DISCOVERY_DATAGRAM: &str = "d0f281f88bff9af7d5ef94b6d1b4c09fec95e68fe187e8caf08bf68bf6";
const NULL_FRAME: &str =
    "00 00 00 1f d0 f2 81 f8 8b ff 9a f7 d5 ef 94 b6 d1 b4 c0 9f ec 95 e6 8f e1 87 e8 ca \
                          f0 9e eb 87 eb 96 eb";
const REPLY_FRAME: &str =
    "00 00 00 2d d0 f2 81 f8 8b ff 9a f7 d5 ef 94 b6 c5 a0 d4 8b f9 9c f0 91 e8 b7 c4 b0 \
                           d1 a5 c0 e2 d8 a3 81 e4 96 e4 bb d8 b7 d3 b6 94 ae 9e e3 9e e3";

#[test]
fn published_vectors_decode_from_hex() {
    let compact = |hex: &str, extra: &[&str]| {
        let mut a = vec!["decode", hex, "--json"];
        a.extend_from_slice(extra);
        plugctl(&a).ok().to_string()
    };
    assert_eq!(compact(GET_SYSINFO_FRAME, &[]), "{\"system\":{\"get_sysinfo\":{}}}\n");
    assert_eq!(compact(DISCOVERY_DATAGRAM, &[]), "{\"system\":{\"get_sysinfo\":{}}}\n");
    assert_eq!(compact(DISCOVERY_DATAGRAM, &["--udp"]), "{\"system\":{\"get_sysinfo\":{}}}\n");
    assert_eq!(compact(NULL_FRAME, &["--tcp"]), "{\"system\":{\"get_sysinfo\":null}}\n");
    assert_eq!(compact(REPLY_FRAME, &[]), "{\"system\":{\"set_relay_state\":{\"err_code\":0}}}\n");
    // Colons, 0x, and the bytes as separate arguments.
    assert_eq!(compact(&GET_SYSINFO_FRAME.replace(' ', ":"), &[]), "{\"system\":{\"get_sysinfo\":{}}}\n");
    assert_eq!(compact(&format!("0x{DISCOVERY_DATAGRAM}"), &[]), "{\"system\":{\"get_sysinfo\":{}}}\n");
    let mut words = vec!["decode"];
    words.extend(REPLY_FRAME.split_whitespace());
    let pretty = plugctl(&words).ok().to_string();
    assert_eq!(
        serde_json::from_str::<Value>(&pretty).unwrap(),
        json!({"system":{"set_relay_state":{"err_code":0}}})
    );
    assert!(pretty.lines().count() > 1, "pretty by default: {pretty}");
    // Two frames back to back: two documents.
    let two = format!("{GET_SYSINFO_FRAME} {REPLY_FRAME}");
    assert_eq!(compact(&two, &[]).lines().count(), 2);
    // The datagram forced as a TCP frame is not one.
    let r = plugctl(&["decode", DISCOVERY_DATAGRAM, "--tcp"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("not a Kasa TCP frame"), "{}", r.stderr);
    // Round trip of the datagram encoder.
    let plain = r#"{"system":{"get_sysinfo":{"alias":"Küche 😽"}}}"#;
    let hex: String = datagram::encode(plain.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(compact(&hex, &[]).trim(), serde_json::from_str::<Value>(plain).unwrap().to_string());
}

fn one_line_error(r: &Run, code: i32, needle: &str) {
    assert_eq!(r.code, Some(code), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "one line: {}", r.stderr);
    assert!(r.stderr.contains(needle), "{needle:?} in {}", r.stderr);
}

#[test]
fn bad_input_gives_clear_errors_and_exit_codes() {
    one_line_error(&plugctl(&["decode", "00 0g"]), 2, "'g' at position 5 is not a hex digit");
    one_line_error(&plugctl(&["decode", "abc"]), 2, "odd number of hex digits");
    one_line_error(&plugctl(&["decode", "41542b595a4f5554"]), 1, "plain text, not encrypted: \"AT+YZOUT\"");
    one_line_error(&plugctl(&["decode", "0000001dd0f281f8"]), 1, "TCP frame header announcing 29 bytes");
    let not_json = plugctl_proto::kasa::frame::encode(b"hello");
    let hex: String = not_json.iter().map(|b| format!("{b:02x}")).collect();
    one_line_error(&plugctl(&["decode", &hex]), 1, "not JSON");

    one_line_error(
        &plugctl(&["decode", "--pcap", "/nonexistent/x.pcap"]),
        1,
        "cannot read /nonexistent/x.pcap",
    );
    let text = temp_file("notes.txt", b"these are notes, not packets\n");
    one_line_error(
        &plugctl(&["decode", "--pcap", text.to_str().unwrap()]),
        1,
        "not a pcap or pcapng capture",
    );
    let empty = temp_file("empty.pcap", b"");
    one_line_error(&plugctl(&["decode", "--pcap", empty.to_str().unwrap()]), 1, "empty");

    // A capture cut in its last packet: what came before is printed, then the error.
    let mut f = TcpFlow::new("127.0.0.1:40000".parse().unwrap(), "127.0.0.2:9999".parse().unwrap(), 1, 2);
    let mut pkts: Vec<(Timestamp, Vec<u8>)> =
        f.handshake().unwrap().into_iter().map(|p| (Timestamp::EPOCH, p)).collect();
    let req = plugctl_proto::kasa::frame::encode(br#"{"system":{"get_sysinfo":{}}}"#);
    pkts.push((Timestamp::EPOCH, f.segment(true, &req).unwrap()));
    pkts.push((Timestamp::EPOCH, f.segment(false, &plugctl_proto::kasa::frame::encode(b"{}")).unwrap()));
    let full = write_pcap(&pkts, LinkType::ETHERNET);
    let cut = temp_file("cut.pcap", &full[..full.len() - 3]);
    let r = plugctl(&["decode", "--pcap", cut.to_str().unwrap(), "--json"]);
    one_line_error(&r, 1, "truncated");
    let lines: Vec<Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["request"]["json"], json!({"system":{"get_sysinfo":{}}}));
    assert_eq!(lines[0]["reply"], Value::Null);

    // Usage mistakes are exit 2.
    assert_eq!(plugctl(&["decode"]).code, Some(2));
    assert_eq!(plugctl(&["decode", "00", "--pcap", "x"]).code, Some(2));
    assert_eq!(plugctl(&["decode", "00", "--port", "5"]).code, Some(2));
    assert_eq!(plugctl(&["decode", "00", "--tcp", "--udp"]).code, Some(2));
}
