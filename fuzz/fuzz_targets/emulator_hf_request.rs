//! The Hi-Flying emulator's request handling (`plugctl_emulator::hf::PlugState`): UDP
//! 48899 datagrams (`handle_datagram`: RECOSCAN, the assist password, `+ok`, `AT+…`
//! commands that change Wi-Fi settings or reboot) and TCP 8899 segments (`handle_segment`:
//! `AT+YZSWITCH`, `AT+YZDELAY`, `AT+YZOUT`, garbage), on one plug whose state carries over.
//!
//! Input: a sequence of messages separated by 0xFF; a message's first byte chooses the
//! channel (even: UDP datagram, odd: TCP segment), the rest is what is sent. The fuzz client
//! is in an assist session from the start (and again after every reboot). Messages are
//! handled ten simulated seconds apart.
//!
//! Checks: no panic and no hang; every reply decodes with the client-side decoder for what
//! was asked (`RecoScanReply`, `AssistReply`, `AtReply`, the `WSCAN` table, control `Reply`,
//! the `AT+YZOUT` `Measurement`) and reports the plug's own MAC and address; no reply
//! datagram exceeds `MAX_DATAGRAM`.

#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use plugctl_emulator::hf::config::PlugConfig;
use plugctl_emulator::hf::PlugState;
use plugctl_fuzz::chunks;
use plugctl_proto::hf::assist::parse_wscan;
use plugctl_proto::hf::{
    classify, parse_segment, AssistReply, AtReply, ControlRequest, Measurement, RecoScanReply, Reply,
    UdpRequest, MAX_DATAGRAM,
};

const PEER: ([u8; 4], u16) = ([127, 0, 0, 1], 40_000);

fn enter_assist(plug: &mut PlugState, ip: Ipv4Addr, now: Instant) {
    let password = plug.assist_password().to_string();
    let peer = SocketAddr::from(PEER);
    let _ = plug.handle_datagram(password.as_bytes(), peer, ip, now);
    let _ = plug.handle_datagram(b"+ok", peer, ip, now);
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut plug) = PlugState::new(PlugConfig::default()) else { return };
    let peer = SocketAddr::from(PEER);
    let start = Instant::now();
    let mut ip = plug.addresses().first().copied().unwrap_or(Ipv4Addr::LOCALHOST);
    enter_assist(&mut plug, ip, start);
    for (i, msg) in chunks::records(data, 0xFF).enumerate().take(64) {
        let now = start + Duration::from_secs(10 * i as u64);
        let _ = plug.tick(now);
        if plug.is_booting() {
            plug.finish_boot(now);
            ip = plug.addresses().first().copied().unwrap_or(Ipv4Addr::LOCALHOST);
            enter_assist(&mut plug, ip, now);
        }
        let Some((&channel, body)) = msg.split_first() else { continue };
        if channel & 1 == 1 {
            let requests = parse_segment(body);
            let replies = plug.handle_segment(body, now);
            for (req, reply) in requests.iter().zip(&replies) {
                let r = Reply::parse(reply);
                assert!(r.is_ok(), "reply {reply:?} to {req:?}: {r:?}");
                if *req == ControlRequest::Measure {
                    Measurement::parse(reply).expect("AT+YZOUT reply decodes");
                }
            }
            continue;
        }
        let asked = classify(body, plug.assist_password());
        let out = plug.handle_datagram(body, peer, ip, now);
        let Some(reply) = out.reply else { continue };
        assert!(reply.len() <= MAX_DATAGRAM, "reply of {} bytes", reply.len());
        match asked {
            UdpRequest::RecoScan => {
                let r = RecoScanReply::parse(&reply).expect("RECOSCAN reply decodes");
                assert_eq!((r.ip, r.mac), (ip, plug.mac()));
            }
            UdpRequest::AssistPassword(_) => {
                let r = AssistReply::parse(&reply).expect("assist reply decodes");
                assert_eq!((r.ip, r.mac), (ip, plug.mac()));
            }
            UdpRequest::At { verb, .. } => {
                let r = AtReply::parse(&reply);
                assert!(r.is_ok(), "reply {reply:?} to AT+{verb}: {r:?}");
                if verb == "WSCAN" && matches!(r, Ok(AtReply::Ok(_))) {
                    parse_wscan(&reply).expect("WSCAN table decodes");
                }
            }
            UdpRequest::MalformedAt(_) => {
                AtReply::parse(&reply).expect("error reply decodes");
            }
            other => panic!("reply {reply:?} to {other:?}"),
        }
    }
});
