//! TCP 8899 control channel of the HF emulator over real loopback sockets
//! (hf-protocol.md §5.2, §5.5, §5.6).

mod hf_common;

use std::{net::Ipv4Addr, time::Duration};

use hf_common::{control_addr, sta_config, start, start_with, yzout, Control, Udp, GUARD};
use plugctl_emulator::hf::{MeterConfig, PlugConfig, ServerConfig};
use plugctl_proto::hf::{LineEnding, RecoScanReply};

fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 10, n)
}

#[tokio::test]
async fn reference_vectors_byte_exact() {
    let plug = start(PlugConfig { meter: MeterConfig::captured(), ..sta_config(ip(2)) }).await;
    let mut c = Control::connect(control_addr(&plug, ip(2))).await;
    let sw = [
        0x41, 0x54, 0x2B, 0x59, 0x5A, 0x53, 0x57, 0x49, 0x54, 0x43, 0x48, 0x3D, 0x31, 0x2C, 0x4F, 0x4E, 0x2C,
        0x32, 0x30, 0x31, 0x37, 0x30, 0x34, 0x30, 0x33, 0x31, 0x31, 0x35, 0x33, 0x0D, 0x0A,
    ];
    c.send(&sw).await;
    assert_eq!(c.line().await.as_bytes(), [0x2B, 0x6F, 0x6B, 0x0D, 0x0A]);
    c.send(&[0x41, 0x54, 0x2B, 0x59, 0x5A, 0x4F, 0x55, 0x54, 0x0D, 0x0A]).await;
    assert_eq!(c.line().await, "+ok=3,22694,5007,0,0,3548,0\r\n");
    let delay = [
        0x41, 0x54, 0x2B, 0x59, 0x5A, 0x44, 0x45, 0x4C, 0x41, 0x59, 0x3D, 0x31, 0x2C, 0x4F, 0x4E, 0x2C, 0x35,
        0x2C, 0x32, 0x30, 0x31, 0x38, 0x30, 0x35, 0x30, 0x31, 0x31, 0x32, 0x30, 0x30, 0x0D, 0x0A,
    ];
    c.send(&delay).await;
    assert_eq!(c.line().await, "+ok\r\n");
    assert_eq!(c.cmd("HELLO\r\n").await, "+ERROR\r\n");
    // the capture's own framing: no newline, then "\n"
    assert_eq!(c.cmd("AT+YZSWITCH=1,ON,201704031153").await, "+ok\r\n");
    assert_eq!(c.cmd("AT+YZOUT\n").await, "+ok=3,22694,5007,0,0,3548,0\r\n");
}

#[tokio::test]
async fn no_greeting_and_every_terminator_of_real_clients() {
    let plug = start(sta_config(ip(3))).await;
    let mut c = Control::connect(control_addr(&plug, ip(3))).await;
    assert!(c.silent_for(Duration::from_millis(300)).await, "the plug must not greet");
    for t in ["", "\r\n", "\n", "\r", "\r\t", "<CR><LF>", "\0", "\r\n\0"] {
        let reply = c.cmd(&format!("AT+YZSWITCH=1,ON,201704031153{t}")).await;
        assert_eq!(reply, "+ok\r\n", "terminator {t:?}");
        assert_eq!(c.cmd(&format!("AT+YZSWITCH=1,OFF,201704031153{t}")).await, "+ok\r\n", "terminator {t:?}");
    }
    assert_eq!(plug.device().lock().unwrap().relay(1), Some(false));
}

#[tokio::test]
async fn cases_and_timestamps_as_clients_send_them() {
    let plug = start(sta_config(ip(4))).await;
    let mut c = Control::connect(control_addr(&plug, ip(4))).await;
    for (cmd, on) in [
        ("AT+YZSWITCH=1,on,201705011455", true),
        ("AT+YZSWITCH=1,off,201705011455", false),
        ("AT+YZSWITCH=1,On,201801010101\r\n", true),
        ("AT+YZSWITCH=1,oFf,201801010101\r\n", false),
        ("AT+YZSWITCH=1,ON,\r\n", true),
        ("AT+YZSWITCH=1,OFF\r\n", false),
        ("AT+YZSWITCH=1,ON,time\r\n", true),
        ("AT+YZSWITCH=1,OFF,2018AugMon1640\r\n", false),
        ("at+yzswitch=1,ON,20140712143012\r\n", true),
    ] {
        assert_eq!(c.cmd(cmd).await, "+ok\r\n", "{cmd:?}");
        assert_eq!(plug.device().lock().unwrap().relay(1), Some(on), "{cmd:?}");
    }
    let t = plug.device().lock().unwrap().last_client_time().map(|t| t.to_string());
    assert_eq!(t.as_deref(), Some("201407121430"));
}

#[tokio::test]
async fn bad_outlets_minutes_and_verbs_get_error_and_keep_the_connection() {
    let plug = start(sta_config(ip(5))).await;
    let mut c = Control::connect(control_addr(&plug, ip(5))).await;
    for bad in [
        "AT+YZSWITCH=0,ON,201704031153",
        "AT+YZSWITCH=2,ON,201704031153",
        "AT+YZSWITCH=x,ON,201704031153",
        "AT+YZSWITCH=-1,ON,201704031153",
        "AT+YZSWITCH=,ON,201704031153",
        "AT+YZSWITCH=1,ONN,201704031153",
        "AT+YZSWITCH=1",
        "AT+YZDELAY=1,ON,0,201805011200",
        "AT+YZDELAY=1,ON,2001,201805011200",
        "AT+YZDELAY=1,ON,-5,201805011200",
        "AT+YZDELAY=1,ON,abc,201805011200",
        "AT+YZDELAY=1,ON",
        "AT+YZDELAY=2,ON,5,201805011200",
        "AT+YZOUT=1",
        "AT+VER",
        "HF-A11ASSISTHREAD",
        "YZ-RECOSCAN",
    ] {
        assert_eq!(c.cmd(&format!("{bad}\r\n")).await, "+ERROR\r\n", "{bad:?}");
    }
    assert!(c.cmd("at+yzout\r\n").await.starts_with("+ok="));
    assert!(c.cmd("AT+YZOUT").await.starts_with("+ok="));
    assert_eq!(c.cmd("AT+YZDELAY=1,ON,2000,201805011200\r\n").await, "+ok\r\n");
    assert_eq!(c.cmd("AT+YZDELAY=1,ON,1,201805011200\r\n").await, "+ok\r\n");
}

#[tokio::test]
async fn two_commands_in_one_segment_and_one_split_in_two() {
    let server = ServerConfig { reassembly_window: Duration::from_secs(3), ..hf_common::server_cfg() };
    let plug = start_with(sta_config(ip(6)), server).await;
    let mut c = Control::connect(control_addr(&plug, ip(6))).await;
    c.send(b"AT+YZOUT\r\nAT+YZOUT\r\n").await;
    assert!(c.line().await.starts_with("+ok="));
    assert!(c.line().await.starts_with("+ok="));
    c.send(b"AT+YZ").await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    c.send(b"OUT\r\n").await;
    let reply = c.line().await;
    assert!(reply.starts_with("+ok="), "split command must reassemble: {reply:?}");
    // an incomplete command is answered once the window ends
    let plug2 = start_with(sta_config(ip(7)), hf_common::server_cfg()).await;
    let mut c2 = Control::connect(control_addr(&plug2, ip(7))).await;
    assert_eq!(c2.cmd("AT+YZ").await, "+ERROR\r\n");
}

#[tokio::test]
async fn many_simultaneous_connections_stay_open() {
    let plug = start(sta_config(ip(8))).await;
    let addr = control_addr(&plug, ip(8));
    let mut conns = Vec::new();
    for _ in 0..8 {
        conns.push(Control::connect(addr).await);
    }
    for round in 0..3 {
        for (k, c) in conns.iter_mut().enumerate() {
            let on = if (k + round) % 2 == 0 { "ON" } else { "OFF" };
            assert_eq!(c.cmd(&format!("AT+YZSWITCH=1,{on},201704031153\r\n")).await, "+ok\r\n");
            assert!(c.cmd("AT+YZOUT\r\n").await.starts_with("+ok="));
        }
    }
    // connect → close without data does not disturb anyone
    drop(Control::connect(addr).await);
    assert!(conns[0].cmd("AT+YZOUT\r\n").await.starts_with("+ok="));
}

#[tokio::test]
async fn hostile_input_never_closes_the_connection() {
    let plug = start(sta_config(ip(9))).await;
    let mut c = Control::connect(control_addr(&plug, ip(9))).await;
    // >512-byte line
    let mut long = b"AT+YZSWITCH=1,ON,".to_vec();
    long.extend([b'1'; 600]);
    long.extend(b"\r\n");
    c.send(&long).await;
    assert_eq!(c.line().await, "+ERROR\r\n");
    assert!(c.cmd("AT+YZOUT\r\n").await.starts_with("+ok="));
    // binary noise, then a valid command: every reply is +ERROR until the +ok=
    let noise: Vec<u8> = (0..2000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    c.send(&noise).await;
    c.send(b"\r\nAT+YZOUT\r\n").await;
    loop {
        let l = c.line().await;
        if l.starts_with("+ok=") {
            break;
        }
        assert_eq!(l, "+ERROR\r\n");
    }
    // HTTP on the control port
    c.send(b"GET / HTTP/1.1\r\nHost: 127.0.10.9\r\n\r\n").await;
    assert_eq!(c.line().await, "+ERROR\r\n");
    assert_eq!(c.line().await, "+ERROR\r\n");
    assert_eq!(c.cmd("AT+YZSWITCH=1,ON,201704031153\r\n").await, "+ok\r\n");
}

#[tokio::test]
async fn line_ending_none_and_captured_quirk() {
    let cfg = PlugConfig { line_ending: LineEnding::None, captured_quirk: true, ..sta_config(ip(10)) };
    let plug = start(cfg).await;
    let mut c = Control::connect(control_addr(&plug, ip(10))).await;
    c.send(b"AT+YZSWITCH=1,ON,201704031153").await;
    assert_eq!(c.read_once().await, "+ok");
    c.send(b"AT+YZSWITCH=1,OFF,201704031153").await;
    assert_eq!(c.read_once().await, "+ok\r\n+error");
}

#[tokio::test]
async fn yzdelay_really_switches_when_the_scaled_delay_ends() {
    // 1 simulated minute = 10 ms
    let plug = start(PlugConfig { time_scale: 6000.0, ..sta_config(ip(11)) }).await;
    let mut c = Control::connect(control_addr(&plug, ip(11))).await;
    assert_eq!(c.cmd("AT+YZDELAY=1,ON,1,201805011200\r\n").await, "+ok\r\n");
    // nobody talks to the plug: its own timer must switch the relay
    let dev = plug.device().clone();
    tokio::time::timeout(GUARD, async {
        while dev.lock().unwrap().relay(1) != Some(true) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the delay never switched the relay on");
    // and discovery shows it
    let udp = Udp::ephemeral().await;
    let reply = udp.ask(hf_common::udp_addr(&plug, ip(11)), "YZ-RECOSCAN").await;
    assert!(RecoScanReply::parse(reply.as_bytes()).unwrap().relay_on);
    // a delayed OFF, observed over TCP
    assert_eq!(c.cmd("AT+YZDELAY=1,OFF,2,201805011200\r\n").await, "+ok\r\n");
    tokio::time::timeout(GUARD, async {
        loop {
            let [i, _, _, p, ..] = yzout(&c.cmd("AT+YZOUT\r\n").await);
            if i == 0 && p == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the delay never switched the relay off");
    assert_eq!(plug.device().lock().unwrap().relay(1), Some(false));
}

#[tokio::test]
async fn yzout_evolves_plausibly() {
    // 1 s real = 1 simulated hour
    let plug = start(PlugConfig { time_scale: 3600.0, ..sta_config(ip(12)) }).await;
    let mut c = Control::connect(control_addr(&plug, ip(12))).await;
    let off = yzout(&c.cmd("AT+YZOUT\r\n").await);
    let [i, u, f, p, pq, e0, eq] = off;
    assert_eq!((i, p, pq, eq), (0, 0, 0, 0), "OFF: no current, no power: {off:?}");
    assert!((22_800..=23_200).contains(&u), "U reported while OFF: {off:?}");
    assert!((4_990..=5_010).contains(&f), "{off:?}");
    assert_eq!(c.cmd("AT+YZSWITCH=1,ON,201704031153\r\n").await, "+ok\r\n");
    let mut last_e = e0;
    let mut rose = false;
    tokio::time::timeout(GUARD, async {
        while !rose {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let r = yzout(&c.cmd("AT+YZOUT\r\n").await);
            let [i, u, _, p, ..] = r;
            assert!(p > 0 && i > 0, "ON draws power: {r:?}");
            assert!(f64::from(p) / 10.0 <= f64::from(u) / 100.0 * f64::from(i) / 100.0, "P ≤ U·I: {r:?}");
            assert!(r[5] >= last_e, "energy never decreases: {r:?}");
            rose = r[5] > e0;
            last_e = r[5];
        }
    })
    .await
    .expect("energy never rose while ON");
    assert_eq!(c.cmd("AT+YZSWITCH=1,OFF,201704031153\r\n").await, "+ok\r\n");
    let a = yzout(&c.cmd("AT+YZOUT\r\n").await);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let b = yzout(&c.cmd("AT+YZOUT\r\n").await);
    assert_eq!((a[0], a[3], b[0], b[3]), (0, 0, 0, 0));
    assert!(a[5] >= last_e);
    assert_eq!(a[5], b[5], "no energy while OFF");
    assert!(b[1] > 20_000);
}
