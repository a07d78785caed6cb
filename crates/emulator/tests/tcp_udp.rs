//! Single-device servers over real loopback sockets (127.0.0.1, free ports only).

mod common;

use std::time::Duration;

use common::*;
use plugctl_emulator::kasa::{self, bind_device, builtin, DeviceConfig, ServerConfig};
use plugctl_proto::kasa::{datagram, frame};
use serde_json::{json, Value};
use tokio::{io::AsyncWriteExt, net::UdpSocket, time::timeout};

const SYSINFO: &str = r#"{"system":{"get_sysinfo":{}}}"#;

fn v(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

#[tokio::test]
async fn tcp_and_udp_answer_on_the_same_port() {
    let dev = start("hs110-hw1", ServerConfig::default()).await;
    let tcp = tcp_ask(dev.addr(), SYSINFO).await;
    let s = &tcp["system"]["get_sysinfo"];
    assert_eq!(s["model"], "HS110(EU)");
    assert_eq!(s["err_code"], 0);
    let (udp, from) = udp_ask(dev.addr(), SYSINFO.as_bytes()).await;
    assert_eq!(from, dev.addr(), "the reply comes from the port that was asked");
    assert_eq!(udp["system"]["get_sysinfo"]["deviceId"], s["deviceId"]);
    // Multi-module discovery (old pyHS100) and any command work over UDP.
    let (udp, _) =
        udp_ask(dev.addr(), br#"{"system":{"get_sysinfo":null},"emeter":{"get_realtime":null}}"#).await;
    assert_eq!(udp["emeter"]["get_realtime"]["err_code"], 0);
    // Non-JSON over UDP gets {}; a datagram wrongly carrying a length header is understood.
    assert_eq!(udp_ask(dev.addr(), b"garbage").await.0, json!({}));
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&frame::encode(SYSINFO.as_bytes()), dev.addr()).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, _) = timeout(GUARD, sock.recv_from(&mut buf)).await.unwrap().unwrap();
    let r: Value = serde_json::from_slice(&datagram::decode(&buf[..n])).unwrap();
    assert_eq!(r["system"]["get_sysinfo"]["model"], "HS110(EU)");
    dev.shutdown().await;
}

#[tokio::test]
async fn error_shapes_over_tcp() {
    let dev = start("hs100-hw2", ServerConfig::default()).await;
    let r = tcp_ask(
        dev.addr(),
        r#"{"emeter":{"get_realtime":{}},"schedule":{"get_realtime":null},"system":{"set_relay_state":{}},"time":[]}"#,
    )
    .await;
    assert_eq!(r["emeter"], v(r#"{"err_code":-1,"err_msg":"module not support"}"#));
    assert_eq!(r["schedule"]["get_realtime"], v(r#"{"err_code":-2,"err_msg":"member not support"}"#));
    assert_eq!(r["system"]["set_relay_state"], v(r#"{"err_code":-3,"err_msg":"invalid argument"}"#));
    assert_eq!(r["time"], v(r#"{"err_code":-3,"err_msg":"invalid argument"}"#));
}

#[tokio::test]
async fn hs300_context_over_tcp() {
    let dev = start("hs300", ServerConfig::default()).await;
    let ids: Vec<String> = dev.device().lock().unwrap().child_ids();
    let mut s = connect(dev.addr()).await;
    let req = json!({"context": {"child_ids": [ids[2]]}, "system": {"set_relay_state": {"state": 0}},
                     "emeter": {"get_realtime": null}});
    s.write_all(&frame::encode(req.to_string().as_bytes())).await.unwrap();
    let r = recv(&mut s).await;
    assert_eq!(r["system"]["set_relay_state"], json!({"err_code": 0}));
    assert!(r.get("context").is_none());
    let bad =
        json!({"system": {"set_relay_state": {"state": 0}}, "context": {"child_ids": [ids[0], "nope"]}});
    s.write_all(&frame::encode(bad.to_string().as_bytes())).await.unwrap();
    assert_eq!(
        recv(&mut s).await["system"]["set_relay_state"],
        v(r#"{"err_code":-14,"err_msg":"entry not exist"}"#)
    );
    s.write_all(&frame::encode(SYSINFO.as_bytes())).await.unwrap();
    let states: Vec<i64> = recv(&mut s).await["system"]["get_sysinfo"]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_i64().unwrap())
        .collect();
    assert_eq!(states, [1, 1, 0, 1, 1, 1]);
}

#[tokio::test]
async fn pipelined_frames_are_answered_in_order() {
    let dev = start("kp115", ServerConfig::default()).await;
    let mut s = connect(dev.addr()).await;
    let mut bytes = frame::encode(br#"{"system":{"set_dev_alias":{"alias":"one"}}}"#);
    bytes.extend(frame::encode(SYSINFO.as_bytes()));
    bytes.extend(frame::encode(br#"{"cnCloud":{"get_info":{}}}"#));
    s.write_all(&bytes).await.unwrap();
    assert_eq!(recv(&mut s).await, json!({"system": {"set_dev_alias": {"err_code": 0}}}));
    assert_eq!(recv(&mut s).await["system"]["get_sysinfo"]["alias"], "one");
    assert_eq!(recv(&mut s).await["cnCloud"]["get_info"]["err_code"], 0);
}

#[tokio::test]
async fn a_frame_split_into_single_bytes_is_reassembled() {
    let dev = start("hs110-hw4", ServerConfig::default()).await;
    let mut s = connect(dev.addr()).await;
    for b in frame::encode(SYSINFO.as_bytes()) {
        s.write_all(&[b]).await.unwrap();
        s.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    assert_eq!(recv(&mut s).await["system"]["get_sysinfo"]["model"], "HS110(EU)");
}

#[tokio::test]
async fn oversized_prefix_closes_the_connection() {
    let dev = start("hs110-hw1", ServerConfig::default()).await;
    for junk in [&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3][..], &[0xff; 8], b"GET / HTTP/1.1\r\n\r\n"] {
        let mut s = connect(dev.addr()).await;
        s.write_all(junk).await.unwrap();
        assert!(closed_by_peer(&mut s).await, "{junk:?}");
    }
    // The device still serves other connections.
    assert_eq!(tcp_ask(dev.addr(), SYSINFO).await["system"]["get_sysinfo"]["err_code"], 0);
}

#[tokio::test]
async fn half_close_gets_the_reply_then_eof() {
    let dev = start("hs110-hw1", ServerConfig::default()).await;
    let mut s = connect(dev.addr()).await;
    s.write_all(&frame::encode(SYSINFO.as_bytes())).await.unwrap();
    s.shutdown().await.unwrap();
    assert_eq!(recv(&mut s).await["system"]["get_sysinfo"]["err_code"], 0);
    let end = timeout(GUARD, read_frame(&mut s)).await.expect("EOF within guard").expect("clean EOF");
    assert!(end.is_none());
}

#[tokio::test]
async fn close_after_reply_mode() {
    let cfg = ServerConfig { close_after_reply: true, ..ServerConfig::default() };
    let dev = start("hs110-hw1", cfg).await;
    let mut s = connect(dev.addr()).await;
    s.write_all(&frame::encode(SYSINFO.as_bytes())).await.unwrap();
    assert_eq!(recv(&mut s).await["system"]["get_sysinfo"]["err_code"], 0);
    assert!(closed_by_peer(&mut s).await);
}

#[tokio::test]
async fn zero_length_header_is_ignored_and_non_json_gets_empty_object() {
    let dev = start("hs100-hw1", ServerConfig::default()).await;
    let mut s = connect(dev.addr()).await;
    let mut bytes = vec![0, 0, 0, 0];
    bytes.extend(frame::encode(b"{not json"));
    bytes.extend([0, 0, 0, 0]);
    bytes.extend(frame::encode(SYSINFO.as_bytes()));
    s.write_all(&bytes).await.unwrap();
    assert_eq!(recv(&mut s).await, json!({}));
    assert_eq!(recv(&mut s).await["system"]["get_sysinfo"]["model"], "HS100(US)");
}

#[tokio::test]
async fn truncated_frame_then_silence_is_dropped() {
    let cfg = ServerConfig { frame_timeout: Duration::from_millis(200), ..ServerConfig::default() };
    let dev = start("hs100-hw1", cfg).await;
    let mut s = connect(dev.addr()).await;
    let f = frame::encode(SYSINFO.as_bytes());
    s.write_all(&f[..f.len() - 5]).await.unwrap();
    let end = timeout(GUARD, read_frame(&mut s)).await.expect("closed within guard");
    assert!(matches!(end, Ok(None) | Err(_)), "no reply to a truncated frame: {end:?}");
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let cfg = ServerConfig { idle_timeout: Duration::from_millis(200), ..ServerConfig::default() };
    let dev = start("hs100-hw1", cfg).await;
    let mut s = connect(dev.addr()).await;
    assert!(closed_by_peer(&mut s).await);
}

#[tokio::test]
async fn connection_cap_closes_extra_connections() {
    let cfg = ServerConfig { max_connections: 2, ..ServerConfig::default() };
    let dev = start("hs100-hw1", cfg).await;
    let mut a = connect(dev.addr()).await;
    let mut b = connect(dev.addr()).await;
    for s in [&mut a, &mut b] {
        s.write_all(&frame::encode(SYSINFO.as_bytes())).await.unwrap();
        recv(s).await;
    }
    let mut c = connect(dev.addr()).await;
    assert!(closed_by_peer(&mut c).await);
    drop(a);
    // Once the server has seen the close, a new connection is served again.
    let served = timeout(GUARD, async {
        loop {
            let mut d = connect(dev.addr()).await;
            if d.write_all(&frame::encode(SYSINFO.as_bytes())).await.is_ok() {
                if let Ok(Ok(Some(_))) = timeout(Duration::from_secs(1), read_frame(&mut d)).await {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(served.is_ok());
    drop(b);
}

#[tokio::test]
async fn client_reset_does_not_hurt_the_server() {
    let dev = start("hs300", ServerConfig::default()).await;
    for _ in 0..5 {
        let s = connect(dev.addr()).await;
        let std = s.into_std().unwrap();
        let sock = socket2::Socket::from(std);
        sock.set_linger(Some(Duration::ZERO)).unwrap();
        use std::io::Write;
        let mut sock = sock;
        let _ = sock.write_all(&frame::encode(SYSINFO.as_bytes()));
        drop(sock); // RST
    }
    assert_eq!(tcp_ask(dev.addr(), SYSINFO).await["system"]["get_sysinfo"]["child_num"], 6);
}

#[tokio::test]
async fn reboot_drops_connections_then_comes_back() {
    let dcfg = DeviceConfig { reboot_time: Duration::from_millis(300), ..DeviceConfig::default() };
    let dev = kasa::shared(builtin("kp115").unwrap().instantiate_with(0, 1, dcfg));
    let dev = bind_device("127.0.0.1".parse().unwrap(), 0, dev, ServerConfig::default()).await.unwrap();
    let mut s = connect(dev.addr()).await;
    s.write_all(&frame::encode(br#"{"system":{"reboot":{"delay":1}}}"#)).await.unwrap();
    assert_eq!(recv(&mut s).await, json!({"system": {"reboot": {"err_code": 0}}}));
    assert!(closed_by_peer(&mut s).await, "the connection drops when the reboot starts");
    let back = timeout(GUARD, async {
        loop {
            let mut c = connect(dev.addr()).await;
            if c.write_all(&frame::encode(SYSINFO.as_bytes())).await.is_ok() {
                if let Ok(Ok(Some(v))) = timeout(Duration::from_secs(1), read_frame(&mut c)).await {
                    return v;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("device back within guard");
    assert_eq!(back["system"]["get_sysinfo"]["model"], "KP115(US)");
    // Delay 0: no reply, the connection just closes.
    let mut s = connect(dev.addr()).await;
    s.write_all(&frame::encode(br#"{"system":{"reboot":{"delay":0}}}"#)).await.unwrap();
    let end = timeout(GUARD, read_frame(&mut s)).await.expect("closed within guard");
    assert!(matches!(end, Ok(None) | Err(_)), "{end:?}");
}
