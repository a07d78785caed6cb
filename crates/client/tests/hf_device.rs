//! `HfDevice` against fake Hi-Flying plugs on loopback: exact bytes, connection life-cycle,
//! malformed replies, timeouts, refusals, and the `YZ-RECOSCAN` state.

mod hf_support;

use std::{
    net::IpAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use hf_support::*;
use plugctl_client::{
    hf::{HfConfig, HfDevice, HfError, HfFailure},
    Error, Op,
};
use plugctl_proto::hf::{CommandError, MeasurementError, ReplyError};

const REF_SWITCH_ON: &[u8] = &[
    0x41, 0x54, 0x2B, 0x59, 0x5A, 0x53, 0x57, 0x49, 0x54, 0x43, 0x48, 0x3D, 0x31, 0x2C, 0x4F, 0x4E, 0x2C,
    0x32, 0x30, 0x31, 0x37, 0x30, 0x34, 0x30, 0x33, 0x31, 0x31, 0x35, 0x33, 0x0D, 0x0A,
];

fn dev(tcp: &FakeTcp, cfg: HfConfig) -> HfDevice {
    HfDevice::new(IpAddr::V4(tcp.ip), cfg)
}

fn hf_failure(e: &Error) -> &HfFailure {
    match e {
        Error::Hf { error, .. } => error,
        other => panic!("expected Error::Hf, got {other:?}"),
    }
}

#[tokio::test]
async fn switch_measure_countdown_exact_bytes() {
    guard(async {
        let relay = Arc::new(AtomicBool::new(false));
        let tcp = FakeTcp::start(lo(2), false, plug_logic(relay.clone())).await;
        let plug = dev(&tcp, tcp.config(2000, 0));

        plug.set_power(true).await.unwrap();
        assert!(relay.load(Ordering::SeqCst));
        let m = plug.measure().await.unwrap();
        assert_eq!((m.current_a, m.voltage_v, m.frequency_hz), (0.08, 236.78, 49.99));
        assert_eq!((m.power_w, m.energy_wh, m.reactive_power), (7.4, 22015.0, 0));
        plug.countdown(true, 5).await.unwrap();
        plug.countdown(false, 2000).await.unwrap();
        plug.set_power(false).await.unwrap();
        assert!(!relay.load(Ordering::SeqCst));

        let got = tcp.received();
        assert_eq!(got[0].as_bytes(), REF_SWITCH_ON, "reference vector of hf-protocol.md §2.2");
        assert_eq!(
            got,
            [
                "AT+YZSWITCH=1,ON,201704031153\r\n",
                "AT+YZOUT\r\n",
                "AT+YZDELAY=1,ON,5,201704031153\r\n",
                "AT+YZDELAY=1,OFF,2000,201704031153\r\n",
                "AT+YZSWITCH=1,OFF,201704031153\r\n",
            ]
        );
        // One connection kept for everything: the plug never closed it.
        assert_eq!(tcp.connections(), 1);
        let s = plug.stats();
        assert_eq!((s.connections, s.requests, s.attempts, s.retries, s.reconnects), (1, 5, 5, 0, 0));
    })
    .await;
}

#[tokio::test]
async fn timestamp_defaults_to_local_time_as_12_digits() {
    guard(async {
        let tcp = FakeTcp::start(lo(2), false, |_| once("+ok\r\n")).await;
        let plug = dev(&tcp, HfConfig { timestamp: None, ..tcp.config(2000, 0) });
        plug.set_power(true).await.unwrap();
        let got = tcp.received();
        let ts = got[0].strip_prefix("AT+YZSWITCH=1,ON,").unwrap().strip_suffix("\r\n").unwrap();
        assert_eq!(ts.len(), 12, "{ts}");
        assert!(ts.bytes().all(|b| b.is_ascii_digit()), "{ts}");
        plugctl_client::hf::Timestamp::parse(ts).unwrap();
    })
    .await;
}

#[tokio::test]
async fn plug_that_closes_after_every_reply() {
    guard(async {
        let relay = Arc::new(AtomicBool::new(false));
        let tcp = FakeTcp::start(lo(3), true, plug_logic(relay)).await;
        let plug = dev(&tcp, tcp.config(2000, 0));
        for _ in 0..3 {
            plug.set_power(true).await.unwrap();
            assert_eq!(plug.measure().await.unwrap().power_w, 7.4);
        }
        assert_eq!(tcp.connections(), 6);
        assert_eq!(tcp.received().len(), 6);
        let s = plug.stats();
        // Every reconnect was transparent: no retries were needed (retries = 0 anyway).
        assert_eq!((s.connections, s.requests, s.retries, s.reconnects), (6, 6, 0, 5));
    })
    .await;
}

#[tokio::test]
async fn captured_quirk_ok_then_error_in_one_read() {
    guard(async {
        let tcp = FakeTcp::start(lo(2), false, |seg| {
            if seg.contains(",OFF,") {
                once("+ok\r\n+error")
            } else {
                once("+ok=3,22694,5007,0,0,3548,0\r\n")
            }
        })
        .await;
        let plug = dev(&tcp, tcp.config(2000, 0));
        plug.set_power(false).await.unwrap();
        assert_eq!(plug.measure().await.unwrap().voltage_v, 226.94);
    })
    .await;
}

#[tokio::test]
async fn quirk_split_over_two_segments_is_not_taken_for_the_next_reply() {
    guard(async {
        let tcp = FakeTcp::start(lo(2), false, |seg| {
            if seg.contains(",OFF,") {
                vec![b"+ok\r\n".to_vec(), b"+error\r\n".to_vec()]
            } else {
                once("+ok=3,22694,5007,0,0,3548,0\r\n")
            }
        })
        .await;
        let plug = dev(&tcp, tcp.config(2000, 0));
        plug.set_power(false).await.unwrap();
        // Let the stray "+error" arrive; it must be discarded, not read as the next reply.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(plug.measure().await.unwrap().energy_wh, 3548.0);
        assert_eq!(tcp.connections(), 1, "stale bytes are drained, the connection kept");
    })
    .await;
}

#[tokio::test]
async fn replies_without_line_ending_and_split_replies() {
    guard(async {
        let tcp = FakeTcp::start(lo(2), false, |seg| {
            if seg.starts_with("AT+YZSWITCH") {
                once("+ok")
            } else {
                vec![b"+ok=3,226".to_vec(), b"94,5007,0,0,3548,0".to_vec()]
            }
        })
        .await;
        let cfg = HfConfig { quiet: Duration::from_millis(500), ..tcp.config(3000, 0) };
        let plug = dev(&tcp, cfg);
        plug.set_power(true).await.unwrap();
        assert_eq!(plug.measure().await.unwrap().voltage_v, 226.94);
    })
    .await;
}

#[tokio::test]
async fn error_reply_is_a_typed_rejection_and_not_retried() {
    guard(async {
        let tcp = FakeTcp::start(lo(2), false, |_| once("+ERROR\r\n")).await;
        let plug = dev(&tcp, tcp.config(2000, 3));
        let e = plug.countdown(true, 5).await.unwrap_err();
        assert_eq!(
            hf_failure(&e),
            &HfFailure::Rejected { command: "AT+YZDELAY=1,ON,5,201704031153".into(), code: None }
        );
        assert_eq!(
            e.to_string(),
            format!(
                "127.0.0.2:{}: the plug rejected the command AT+YZDELAY=1,ON,5,201704031153 (+ERROR)",
                tcp.port
            )
        );
        assert!(!e.is_retryable());
        assert_eq!(tcp.received().len(), 1, "a rejection is not retried");

        let tcp = FakeTcp::start(lo(2), false, |_| once("+ERR=-2\r\n")).await;
        let e = dev(&tcp, tcp.config(2000, 3)).set_power(true).await.unwrap_err();
        assert!(matches!(hf_failure(&e), HfFailure::Rejected { code: Some(HfError::InvalidCommand), .. }));
    })
    .await;
}

#[tokio::test]
async fn garbage_is_retried_then_reported() {
    guard(async {
        let tcp = FakeTcp::start(lo(2), false, |_| once("HELLO\r\n")).await;
        let plug = dev(&tcp, tcp.config(2000, 2));
        let e = plug.set_power(true).await.unwrap_err();
        assert!(matches!(hf_failure(&e), HfFailure::BadReply { error: ReplyError::Garbage(_), .. }), "{e:?}");
        assert!(e.to_string().contains("unreadable reply to AT+YZSWITCH=1,ON,201704031153"), "{e}");
        assert_eq!(tcp.received().len(), 3, "garbled replies are retried");
        assert_eq!(tcp.connections(), 3, "and the connection is dropped after each");
        assert_eq!(plug.stats().retries, 2);
    })
    .await;
}

#[tokio::test]
async fn truncated_and_wrong_field_count_measurements() {
    guard(async {
        let tcp = FakeTcp::start(lo(2), false, |_| once("+ok=\r\n")).await;
        let e = dev(&tcp, tcp.config(2000, 0)).measure().await.unwrap_err();
        assert!(
            matches!(hf_failure(&e), HfFailure::BadReply { error: ReplyError::Truncated(_), .. }),
            "{e:?}"
        );

        let tcp = FakeTcp::start(lo(2), false, |_| once("+ok=3,22694,5007,0,0,3548\r\n")).await;
        let e = dev(&tcp, tcp.config(2000, 3)).measure().await.unwrap_err();
        assert_eq!(hf_failure(&e), &HfFailure::BadMeasurement(MeasurementError::FieldCount { got: 6 }));
        assert!(e.to_string().ends_with("bad AT+YZOUT reply: +ok= reply has 6 fields, expected 7"), "{e}");
        assert_eq!(tcp.received().len(), 1, "a well-formed but wrong reply is not retried");

        let tcp = FakeTcp::start(lo(2), false, |_| once("+ok\r\n")).await;
        let e = dev(&tcp, tcp.config(2000, 0)).measure().await.unwrap_err();
        assert!(matches!(hf_failure(&e), HfFailure::BadMeasurement(MeasurementError::Unexpected(_))));

        let tcp = FakeTcp::start(lo(2), false, |_| once("+ok=3,x,5007,0,0,3548,0\r\n")).await;
        let e = dev(&tcp, tcp.config(2000, 0)).measure().await.unwrap_err();
        assert!(matches!(
            hf_failure(&e),
            HfFailure::BadMeasurement(MeasurementError::NotANumber { index: 2, .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn oversized_reply_is_capped() {
    guard(async {
        let tcp = FakeTcp::start(lo(2), false, |_| vec![vec![b'x'; 1500]]).await;
        let e = dev(&tcp, tcp.config(2000, 0)).measure().await.unwrap_err();
        assert_eq!(hf_failure(&e), &HfFailure::ReplyTooLong { command: "AT+YZOUT".into(), max: 1024 });
    })
    .await;
}

#[tokio::test]
async fn silent_plug_times_out_with_the_configured_timeout() {
    guard(async {
        let tcp = FakeTcp::start(lo(2), false, |_| Vec::new()).await;
        let plug = dev(&tcp, tcp.config(200, 1));
        let e = plug.set_power(true).await.unwrap_err();
        assert!(
            matches!(e, Error::Timeout { op: Op::Reply, after, .. } if after == Duration::from_millis(200)),
            "{e:?}"
        );
        assert_eq!(e.to_string(), format!("127.0.0.2:{}: no reply within 200 ms", tcp.port));
        assert_eq!(tcp.received().len(), 2, "one retry");
    })
    .await;
}

#[tokio::test]
async fn refused_fails_at_once_without_retry() {
    guard(async {
        let port = closed_tcp_port(lo(2));
        let plug = HfDevice::new(IpAddr::V4(lo(2)), HfConfig { control_port: port, ..quick(2000, 3) });
        let e = plug.measure().await.unwrap_err();
        assert!(matches!(e, Error::Refused { .. }), "{e:?}");
        assert_eq!(plug.stats().connect_attempts, 1);
    })
    .await;
}

#[tokio::test]
async fn plug_that_closes_without_replying() {
    guard(async {
        // Accepts, reads the command, closes without a byte: a fresh connection closing
        // early is an error (retried, then reported).
        let tcp = FakeTcp::start(lo(2), true, |_| vec![Vec::new()]).await;
        let e = dev(&tcp, tcp.config(2000, 1)).set_power(true).await.unwrap_err();
        assert!(matches!(e, Error::Closed { .. }), "{e:?}");
        assert_eq!(tcp.received().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn countdown_is_checked_before_sending() {
    guard(async {
        let tcp = FakeTcp::start(lo(2), false, |_| once("+ok\r\n")).await;
        let plug = dev(&tcp, tcp.config(2000, 0));
        for minutes in [0, 2001, u32::MAX] {
            let e = plug.countdown(true, minutes).await.unwrap_err();
            assert_eq!(hf_failure(&e), &HfFailure::InvalidCountdown(CommandError::DelayOutOfRange(minutes)));
            assert!(!e.is_retryable());
        }
        let e = plug.countdown(false, 2001).await.unwrap_err();
        assert!(e.to_string().contains("2001 minutes is outside the device's 1..=2000 minute range"), "{e}");
        plug.countdown(true, 1).await.unwrap();
        assert_eq!(tcp.received(), ["AT+YZDELAY=1,ON,1,201704031153\r\n"]);
    })
    .await;
}

#[tokio::test]
async fn send_raw_returns_the_reply_text() {
    guard(async {
        let tcp = FakeTcp::start(lo(2), false, |seg| {
            if seg == "AT+YZOUT\r\n" {
                once("+ok=3,22694,5007,0,0,3548,0\r\n")
            } else {
                once("+ERROR\r\n")
            }
        })
        .await;
        let plug = dev(&tcp, tcp.config(2000, 0));
        assert_eq!(plug.send_raw("AT+YZOUT").await.unwrap(), "+ok=3,22694,5007,0,0,3548,0");
        assert_eq!(plug.send_raw("AT+NOPE\r\n").await.unwrap(), "+ERROR");
        for bad in ["", "AT+A\r\nAT+B", &"A".repeat(600)] {
            let e = plug.send_raw(bad).await.unwrap_err();
            assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
        }
        assert_eq!(tcp.received(), ["AT+YZOUT\r\n", "AT+NOPE\r\n"]);
    })
    .await;
}

#[tokio::test]
async fn state_from_a_reply_to_the_source_port() {
    guard(async {
        let port = free_udp_port();
        let udp = FakeUdp::start(lo(4), port, false, |d| {
            if d == b"YZ-RECOSCAN" {
                vec![(Dest::Source, recoscan_reply(4, true))]
            } else {
                Vec::new()
            }
        })
        .await;
        let plug = HfDevice::new(udp.ip_addr(), HfConfig { udp_port: port, ..quick(2000, 0) });
        let s = plug.state().await.unwrap();
        assert!(s.relay_on && s.online);
        assert_eq!((s.mac.to_string().as_str(), s.serial.as_str()), ("ACCF23000004", "040002294"));
        assert_eq!((s.ip, s.extra.clone()), (lo(4), vec!["0".to_string()]));
        assert_eq!(udp.received(), ["YZ-RECOSCAN"]);
    })
    .await;
}

#[tokio::test]
async fn state_from_a_reply_to_the_fixed_reply_port() {
    guard(async {
        let port = free_udp_port();
        let reply_port = free_udp_port();
        let udp = FakeUdp::start(lo(5), port, false, move |d| {
            if d == b"YZ-RECOSCAN" {
                vec![(Dest::Fixed(reply_port), recoscan_reply(5, false))]
            } else {
                Vec::new()
            }
        })
        .await;
        let cfg = HfConfig { udp_port: port, reply_port, listen_reply_port: true, ..quick(2000, 0) };
        let plug = HfDevice::new(udp.ip_addr(), cfg.clone());
        let s = plug.state().await.unwrap();
        assert!(!s.relay_on);
        assert_eq!(s.ip, lo(5));

        // Without the listener the reply is never seen.
        let plug = HfDevice::new(
            udp.ip_addr(),
            HfConfig { listen_reply_port: false, timeout: Duration::from_millis(200), ..cfg },
        );
        let e = plug.state().await.unwrap_err();
        assert!(matches!(e, Error::Timeout { op: Op::Reply, .. }), "{e:?}");
    })
    .await;
}

#[tokio::test]
async fn parallel_state_reads_share_the_reply_port() {
    guard(async {
        let reply_port = free_udp_port();
        let mut plugs = Vec::new();
        let mut fakes = Vec::new();
        for n in 2..=6u8 {
            let port = free_udp_port();
            fakes.push(
                FakeUdp::start(lo(n), port, false, move |_| {
                    vec![(Dest::Fixed(reply_port), recoscan_reply(n, n % 2 == 0))]
                })
                .await,
            );
            let cfg = HfConfig { udp_port: port, reply_port, listen_reply_port: true, ..quick(3000, 0) };
            plugs.push(HfDevice::new(IpAddr::V4(lo(n)), cfg));
        }
        let results = futures::future::join_all(plugs.iter().map(|p| p.state())).await;
        for (n, r) in (2..=6u8).zip(results) {
            let s = r.unwrap();
            assert_eq!((s.ip, s.relay_on), (lo(n), n % 2 == 0));
        }
    })
    .await;
}

#[tokio::test]
async fn state_errors() {
    guard(async {
        // Garbage from the plug: reported as a bad reply after the retries.
        let port = free_udp_port();
        let udp =
            FakeUdp::start(lo(6), port, false, |_| vec![(Dest::Source, b"127.0.0.6,nope".to_vec())]).await;
        let plug = HfDevice::new(udp.ip_addr(), HfConfig { udp_port: port, ..quick(200, 1) });
        let e = plug.state().await.unwrap_err();
        assert!(matches!(hf_failure(&e), HfFailure::BadScanReply(_)), "{e:?}");
        assert_eq!(udp.received().len(), 2);

        // Nobody on the port: ICMP port unreachable.
        let port = free_udp_port();
        let plug = HfDevice::new(IpAddr::V4(lo(7)), HfConfig { udp_port: port, ..quick(2000, 3) });
        let e = plug.state().await.unwrap_err();
        assert!(matches!(e, Error::Refused { .. } | Error::Timeout { .. }), "{e:?}");
    })
    .await;
}

#[tokio::test]
async fn toggle_reads_state_then_switches_and_info_combines() {
    guard(async {
        let relay = Arc::new(AtomicBool::new(false));
        let tcp = FakeTcp::start(lo(2), false, plug_logic(relay.clone())).await;
        let port = free_udp_port();
        let r = relay.clone();
        let _udp = FakeUdp::start(lo(2), port, false, move |_| {
            vec![(Dest::Source, recoscan_reply(2, r.load(Ordering::SeqCst)))]
        })
        .await;
        let plug = dev(&tcp, HfConfig { udp_port: port, ..tcp.config(2000, 0) });
        assert!(plug.toggle().await.unwrap());
        assert!(relay.load(Ordering::SeqCst));
        assert!(!plug.toggle().await.unwrap());
        assert!(!relay.load(Ordering::SeqCst));

        let info = plug.info().await.unwrap();
        assert_eq!(info.state.as_ref().map(|s| s.relay_on), Some(false));
        assert_eq!(info.measurement.map(|m| m.power_w), Some(0.0));
        assert_eq!((info.state_error, info.measurement_error), (None, None));

        // Only the control channel answers: info still works, with the state's error.
        let plug = dev(&tcp, HfConfig { udp_port: free_udp_port(), ..tcp.config(300, 0) });
        let info = plug.info().await.unwrap();
        assert!(info.state.is_none() && info.state_error.is_some());
        assert!(info.measurement.is_some());
    })
    .await;
}
