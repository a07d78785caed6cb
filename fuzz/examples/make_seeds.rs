//! Writes the seed corpus `fuzz/corpus/<target>/` from plugctl's own encoders and emulators
//! (no captured or fixture bytes). Run from `fuzz/`: `cargo run --example make_seeds`.
//! Existing seeds with the same names are overwritten; others (e.g. regression inputs from
//! fixed crashes, named `crash-*`) are kept.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Instant;

use plugctl_capture::writer::{udp_packet, PcapWriter, PcapngWriter, TcpFlow};
use plugctl_capture::{LinkType, Timestamp};
use plugctl_emulator::hf::config::{default_networks, PlugConfig};
use plugctl_emulator::hf::PlugState;
use plugctl_emulator::kasa::builtin;
use plugctl_proto::hf::assist::{encode_wscan_reply, AtReply, HfError};
use plugctl_proto::hf::command::{self, Outlet, Timestamp as HfTime};
use plugctl_proto::hf::{LineEnding, Measurement, Reply, DEFAULT_ASSIST_PASSWORD, RECOSCAN};
use plugctl_proto::kasa::{datagram, frame, tdp, Request, DISCOVERY_QUERY};
use serde_json::json;

type Seeds = Vec<(&'static str, Vec<u8>)>;

fn write(target: &str, seeds: Seeds) -> std::io::Result<()> {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir)?;
    for (name, bytes) in seeds {
        fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn join(sep: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    parts.join(&[sep][..])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = Instant::now();
    let sysinfo = Request::get_sysinfo().to_json();
    let relay_on = Request::set_relay_state(true).to_json();

    // Replies produced by our own Kasa emulator.
    let mut plug = builtin("hs110-hw4").ok_or("no hs110-hw4")?.instantiate(0, 1);
    let mut v1 = builtin("hs110-hw1").ok_or("no hs110-hw1")?.instantiate(0, 1);
    let mut strip = builtin("hs300").ok_or("no hs300")?.instantiate(0, 1);
    let reply = |dev: &mut plugctl_emulator::kasa::DeviceState, req: &str| -> Result<Vec<u8>, String> {
        dev.handle(req.as_bytes(), now).ok_or_else(|| format!("no reply to {req}"))
    };
    let sysinfo_reply = reply(&mut plug, &sysinfo)?;
    let realtime = Request::get_realtime().to_json();
    let relay_reply = reply(&mut plug, &relay_on)?;
    let strip_children = r#"{"system":{"get_sysinfo":{}},"context":{"child_ids":["00"]}}"#;

    write(
        "kasa_frame",
        vec![
            ("request", cat(&[&[5, 0], &frame::encode(sysinfo.as_bytes())])),
            ("reply", cat(&[&[5, 3], &frame::encode(&relay_reply)])),
            (
                "pipelined",
                cat(&[&[5, 7], &frame::encode(b"{\"a\":1}"), &frame::encode(b"{\"b\":2}"), &[0, 0, 0]]),
            ),
            ("zero_length", cat(&[&[5, 1], &[0, 0, 0, 0], &frame::encode(b"{}")])),
            ("http_on_9999", cat(&[&[5, 2], b"GET / HTTP/1.1\r\n\r\n"])),
            ("small_cap", cat(&[&[3, 9], &frame::encode(&relay_reply)])),
        ],
    )?;

    let tdp_reply =
        json!({"result": {"device_model": "KP125M(US)", "mgt_encrypt_schm": {"encrypt_type": "KLAP"}}});
    write(
        "kasa_datagram",
        vec![
            ("discovery", datagram::encode(DISCOVERY_QUERY.as_bytes())),
            ("sysinfo_reply", datagram::encode(&sysinfo_reply)),
            ("tdp_probe", plugctl_client::kasa::klap::discovery_query(0x0102_0304)),
            ("tdp_reply", tdp::encode(7, tdp_reply.to_string().as_bytes())),
        ],
    )?;

    write(
        "kasa_reply_models",
        vec![
            ("sysinfo_v2", sysinfo_reply.clone()),
            ("realtime_v2", reply(&mut plug, &realtime)?),
            ("realtime_v1", reply(&mut v1, &realtime)?),
            ("daystat", reply(&mut plug, r#"{"emeter":{"get_daystat":{"year":2026,"month":1}}}"#)?),
            ("monthstat", reply(&mut v1, r#"{"emeter":{"get_monthstat":{"year":2026}}}"#)?),
            ("time", reply(&mut plug, r#"{"time":{"get_time":{}}}"#)?),
            ("cloud", reply(&mut plug, r#"{"cnCloud":{"get_info":{}}}"#)?),
            ("strip", reply(&mut strip, &sysinfo)?),
            ("errors", reply(&mut plug, r#"{"nosuch":{"x":{}},"system":{"nosuch":{}}}"#)?),
        ],
    )?;

    let requests: Vec<Vec<u8>> = [
        sysinfo.clone(),
        relay_on.clone(),
        Request::set_led_off(true).to_json(),
        Request::set_alias("Fuzz lamp").to_json(),
        realtime.clone(),
        r#"{"emeter":{"get_daystat":{"year":2026,"month":1}}}"#.to_string(),
        r#"{"schedule":{"add_rule":{"stime_opt":0,"wday":[1,1,1,1,1,1,1],"smin":600,"enable":1,"repeat":1,"etime_opt":-1,"name":"r","eact":-1,"month":0,"sact":1,"year":0,"longitude":0,"day":0,"force":0,"latitude":0,"emin":0}}}"#.to_string(),
        r#"{"count_down":{"add_rule":{"enable":1,"delay":60,"act":0,"name":"c"}}}"#.to_string(),
        r#"{"time":{"set_timezone":{"index":6}}}"#.to_string(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    let strip_requests: Vec<Vec<u8>> =
        [strip_children.to_string(), Request::set_relay_state(false).for_children(["01"]).to_json()]
            .into_iter()
            .map(String::into_bytes)
            .collect();
    write(
        "emulator_kasa_request",
        vec![
            ("plug_session", cat(&[&[0], &join(0xFF, &requests)])),
            ("strip_session", cat(&[&[7], &join(0xFF, &strip_requests)])),
            ("reboot", cat(&[&[1], Request::reboot(1).to_json().as_bytes()])),
        ],
    )?;

    // Hi-Flying: control channel.
    let ts = HfTime::new(2026, 1, 2, 3, 4)?;
    let on = command::switch(Outlet::FIRST, true, ts);
    let off = command::switch(Outlet::FIRST, false, ts);
    let delay = command::delay(Outlet::FIRST, true, 30, ts)?;
    let measured = Measurement {
        current_a: 0.42,
        voltage_v: 229.87,
        frequency_hz: 50.01,
        power_w: 61.3,
        energy_wh: 1234.0,
        ..Measurement::default()
    };
    write(
        "hf_at_reply",
        vec![
            ("ok", Reply::Ok.encode(LineEnding::CrLf).into_bytes()),
            ("error", Reply::Error.encode(LineEnding::None).into_bytes()),
            ("err_code", Reply::Err(-2).encode(LineEnding::CrLf).into_bytes()),
            ("measurement", measured.to_reply().encode(LineEnding::CrLf).into_bytes()),
            ("quirk", format!("+ok{}", plugctl_proto::hf::reply::CAPTURED_QUIRK_TRAILER).into_bytes()),
        ],
    )?;
    write(
        "hf_request",
        vec![
            ("switch", cat(&[&[3, 0], on.as_bytes(), off.as_bytes()])),
            ("delay_measure", cat(&[&[3, 5], delay.as_bytes(), command::measure().as_bytes()])),
            ("no_newline", cat(&[&[3, 1], b"AT+YZOUT"])),
            ("recoscan", cat(&[&[3, 2], RECOSCAN.as_bytes()])),
            ("assist_at", cat(&[&[1, 4], b"AT+WSSSID=HomeNet\r"])),
        ],
    )?;

    // Hi-Flying: UDP 48899, answers from our own emulated plug.
    let hf = PlugState::new(PlugConfig::default())?;
    let ip = Ipv4Addr::new(127, 0, 0, 2);
    let networks: Vec<_> = default_networks().iter().map(|n| n.scan_entry()).collect();
    write("hf_recoscan", vec![("reply", hf.discovery_reply(ip).to_wire().into_bytes())])?;
    write(
        "hf_assist_reply",
        vec![
            ("discovery", hf.assist_reply(ip).to_wire().into_bytes()),
            ("ok", AtReply::Ok(None).to_wire().into_bytes()),
            ("err", AtReply::Err(HfError::InvalidCommand).to_wire().into_bytes()),
            ("wskey", AtReply::Ok(Some("WPA2PSK,AES,secret123".into())).to_wire().into_bytes()),
            ("wmode", AtReply::Ok(Some("STA".into())).to_wire().into_bytes()),
        ],
    )?;
    write("hf_wscan", vec![("table", encode_wscan_reply(&networks).into_bytes())])?;
    let udp = |s: &str| cat(&[&[0], s.as_bytes()]);
    let tcp = |s: &str| cat(&[&[1], s.as_bytes()]);
    write(
        "emulator_hf_request",
        vec![
            (
                "session",
                join(
                    0xFF,
                    &[
                        udp(RECOSCAN),
                        udp(DEFAULT_ASSIST_PASSWORD),
                        udp("AT+WSCAN\r"),
                        udp("AT+WSSSID=HomeNet\r"),
                        udp("AT+WSKEY=WPA2PSK,AES,secret123\r"),
                        udp("AT+WMODE=STA\r"),
                        udp("AT+Z\r"),
                        tcp(&on),
                        tcp(&command::measure()),
                        tcp(&delay),
                        tcp(&off),
                    ],
                ),
            ),
            ("garbage", join(0xFF, &[tcp("GET / HTTP/1.0\r\n"), udp("AT\r"), udp("AT+ =1\r")])),
        ],
    )?;

    // Captures written with our own pcap writers around a Kasa TCP exchange, a discovery
    // datagram and a Hi-Flying exchange.
    let client = SocketAddr::from(([127, 0, 0, 1], 50_000));
    let kasa = SocketAddr::from(([127, 0, 0, 2], 9999));
    let reco = SocketAddr::from(([127, 0, 0, 3], 8899));
    let mut packets = Vec::new();
    let mut flow = TcpFlow::new(client, kasa, 1000, 5000);
    packets.extend(flow.handshake()?);
    packets.extend(flow.send(true, &frame::encode(sysinfo.as_bytes()), 1460)?);
    packets.extend(flow.send(false, &frame::encode(&relay_reply), 7)?);
    packets.push(flow.fin(true)?);
    packets.push(udp_packet(
        client,
        SocketAddr::from(([127, 255, 255, 255], 9999)),
        &datagram::encode(DISCOVERY_QUERY.as_bytes()),
    )?);
    let mut hf_flow = TcpFlow::new(client, reco, 7, 9);
    packets.extend(hf_flow.handshake()?);
    packets.push(hf_flow.segment(true, command::measure().as_bytes())?);
    packets.push(hf_flow.segment(false, measured.to_reply().encode(LineEnding::CrLf).as_bytes())?);
    let t = |i: usize| Timestamp::new(1_767_225_600 + i as i64, 250_000_000);
    let mut pcap = PcapWriter::new(LinkType::RAW);
    let mut ng = PcapngWriter::new();
    let iface = ng.interface(LinkType::RAW);
    for (i, p) in packets.iter().enumerate() {
        pcap.packet(t(i), p);
        ng.packet(iface, t(i), p);
    }
    write(
        "pcap",
        vec![
            ("kasa_hf.pcap", pcap.into_bytes()),
            ("kasa_hf.pcapng", ng.into_bytes()),
            ("hex", b"00 00 00 1d d0 f2 81 f8 8b ff 9a f7".to_vec()),
        ],
    )?;

    // capture_stream records: [kind, seq_hi, seq_lo, len, payload…].
    let rec = |kind: u8, seq: u16, payload: &[u8]| {
        cat(&[
            &[kind],
            &seq.to_be_bytes(),
            &[payload.len().min(255) as u8],
            &payload[..payload.len().min(255)],
        ])
    };
    let req = frame::encode(sysinfo.as_bytes());
    let rep = frame::encode(b"{\"system\":{\"set_relay_state\":{\"err_code\":0}}}");
    write(
        "capture_stream",
        vec![
            (
                "kasa_exchange",
                cat(&[
                    &[0],
                    &rec(0x03, 0, b""),
                    &rec(0x02, 0, b""),
                    &rec(0x11, 1, &req),
                    &rec(0x10, 1, &rep),
                ]),
            ),
            (
                "out_of_order",
                cat(&[
                    &[1],
                    &rec(0x11, 11, &req[10..]),
                    &rec(0x11, 1, &req[..10]),
                    &rec(0x11, 1, &req[..10]),
                ]),
            ),
            (
                "hf_and_udp",
                cat(&[
                    &[2],
                    &rec(0x51, 1, command::measure().as_bytes()),
                    &rec(0x50, 1, b"+ok=1,2,3,4,5,6,7\r\n"),
                    &rec(0xA1, 0, RECOSCAN.as_bytes()),
                    &rec(0x21, 0, &datagram::encode(DISCOVERY_QUERY.as_bytes())),
                ]),
            ),
        ],
    )?;
    Ok(())
}
