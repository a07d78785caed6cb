//! Wi-Fi set-up over the Hi-Flying assist protocol against fake plugs on loopback.

mod hf_support;

use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use hf_support::*;
use plugctl_client::{
    hf::{
        wifi::{self, Security},
        HfConfig, HfError, HfFailure, ScanEntry, WMode,
    },
    Error,
};
use plugctl_proto::hf::{
    assist::{
        wifi::WifiError,
        wscan::{encode_wscan_reply, Security as ScanSecurity},
    },
    classify, Mac, UdpRequest,
};

/// The Wi-Fi settings of a fake module.
#[derive(Debug, Clone)]
struct Module {
    password: String,
    wmode: String,
    ssid: String,
    key: String,
    /// Store the SSID with its last character dropped (a broken read-back).
    mangle_ssid: bool,
    /// Answer `AT+WSKEY=` with this error code.
    reject_key: Option<i32>,
}

impl Default for Module {
    fn default() -> Self {
        Self {
            password: "HF-A11ASSISTHREAD".into(),
            wmode: "AP".into(),
            ssid: "Reco900000621".into(),
            key: "WPA2PSK,AES,12345678".into(),
            mangle_ssid: false,
            reject_key: None,
        }
    }
}

fn networks() -> Vec<ScanEntry> {
    vec![
        ScanEntry {
            channel: 1,
            ssid: "ZJSW".into(),
            bssid: Mac([0x3C, 0xE5, 0xA6, 0x61, 0xB4, 0x41]),
            security: ScanSecurity { auth: "OPEN".into(), encryption: "NONE".into() },
            signal: 74,
        },
        ScanEntry {
            channel: 6,
            ssid: "Home, sweet home".into(),
            bssid: Mac([0, 0x11, 0x22, 0x33, 0x44, 0x55]),
            security: ScanSecurity { auth: "WPA2PSK".into(), encryption: "AES".into() },
            signal: 100,
        },
    ]
}

/// A fake HF module on `127.0.0.n:<free port>` speaking the assist protocol.
async fn module(n: u8, m: Module) -> (FakeUdp, Arc<Mutex<Module>>) {
    let state = Arc::new(Mutex::new(m));
    let st = state.clone();
    let port = free_udp_port();
    let fake = FakeUdp::start(lo(n), port, false, move |d| {
        let mut m = st.lock().unwrap();
        let ok = |v: Option<&str>| match v {
            Some(v) => format!("+ok={v}\r\n\r\n"),
            None => "+ok\r\n\r\n".to_string(),
        };
        let reply = match classify(d, &m.password) {
            UdpRequest::AssistPassword(_) => format!("127.0.0.{n},ACCF23D78A6C,HF-LPB100"),
            UdpRequest::At { verb, arg } => match (verb.as_str(), arg) {
                ("WMODE", None) => ok(Some(&m.wmode)),
                ("WMODE", Some(v)) => {
                    m.wmode = v;
                    ok(None)
                }
                ("WSSSID", None) => ok(Some(&m.ssid)),
                ("WSSSID", Some(v)) => {
                    m.ssid = if m.mangle_ssid { v[..v.len() - 1].to_string() } else { v };
                    ok(None)
                }
                ("WSKEY", None) => ok(Some(&m.key)),
                ("WSKEY", Some(v)) => match m.reject_key {
                    Some(code) => format!("+ERR={code}\r\n\r\n"),
                    None => {
                        m.key = v;
                        ok(None)
                    }
                },
                ("WSCAN", None) => encode_wscan_reply(&networks()),
                ("Z", None) => return Vec::new(),
                _ => "+ERR=-2\r\n\r\n".to_string(),
            },
            _ => return Vec::new(),
        };
        vec![(Dest::Source, reply.into_bytes())]
    })
    .await;
    (fake, state)
}

fn cfg(fake: &FakeUdp, timeout_ms: u64, retries: u32) -> HfConfig {
    HfConfig { udp_port: fake.port, quiet: Duration::from_millis(30), ..quick(timeout_ms, retries) }
}

fn hf_failure(e: &Error) -> &HfFailure {
    match e {
        Error::Hf { error, .. } => error,
        other => panic!("expected Error::Hf, got {other:?}"),
    }
}

#[tokio::test]
async fn join_happy_path_exact_datagrams() {
    guard(async {
        let (fake, state) = module(2, Module::default()).await;
        let joined =
            wifi::join(fake.ip_addr(), "MyNet", Security::Wpa2Aes, Some("secret123"), &cfg(&fake, 2000, 0))
                .await
                .unwrap();
        assert_eq!(joined.previous_mode, WMode::Ap);
        assert_eq!(joined.module.module_id, "HF-LPB100");
        assert_eq!(joined.module.mac.to_string(), "ACCF23D78A6C");
        let got = fake.wait_for(9).await;
        assert_eq!(
            got,
            [
                "HF-A11ASSISTHREAD",
                "+ok",
                "AT+WMODE\r",
                "AT+WSSSID=MyNet\r",
                "AT+WSKEY=WPA2PSK,AES,secret123\r",
                "AT+WSSSID\r",
                "AT+WSKEY\r",
                "AT+WMODE=STA\r",
                "AT+Z\r",
            ]
        );
        let m = state.lock().unwrap().clone();
        assert_eq!(
            (m.wmode.as_str(), m.ssid.as_str(), m.key.as_str()),
            ("STA", "MyNet", "WPA2PSK,AES,secret123")
        );
    })
    .await;
}

#[tokio::test]
async fn join_open_and_tkip_networks() {
    guard(async {
        let (fake, state) = module(3, Module::default()).await;
        wifi::join(fake.ip_addr(), "Cafe Free WiFi", Security::Open, None, &cfg(&fake, 2000, 0))
            .await
            .unwrap();
        let got = fake.wait_for(9).await;
        assert_eq!(got[4], "AT+WSKEY=OPEN,NONE\r");
        assert_eq!(state.lock().unwrap().ssid, "Cafe Free WiFi");

        let (fake, _) = module(3, Module::default()).await;
        wifi::join(fake.ip_addr(), "Old", Security::WpaTkip, Some("tkip-key!"), &cfg(&fake, 2000, 0))
            .await
            .unwrap();
        assert_eq!(fake.wait_for(9).await[4], "AT+WSKEY=WPAPSK,TKIP,tkip-key!\r");
    })
    .await;
}

#[tokio::test]
async fn wrong_assist_password_gets_no_answer() {
    guard(async {
        let (fake, _) =
            module(4, Module { password: "WIFIKIT-214028-READ".into(), ..Module::default() }).await;
        let e =
            wifi::join(fake.ip_addr(), "MyNet", Security::Wpa2Aes, Some("secret123"), &cfg(&fake, 200, 1))
                .await
                .unwrap_err();
        assert_eq!(hf_failure(&e), &HfFailure::AssistNoAnswer { after: Duration::from_millis(200) });
        assert_eq!(
            e.to_string(),
            format!(
                "127.0.0.4:{}: no answer to the assist password within 200 ms: the assist password was \
                 not accepted, or the plug is not in set-up (AP) mode",
                fake.port
            )
        );
        assert_eq!(
            fake.received(),
            ["HF-A11ASSISTHREAD", "HF-A11ASSISTHREAD"],
            "password resent once, nothing else"
        );

        // A configured password is used instead.
        let c = HfConfig { assist_password: "WIFIKIT-214028-READ".into(), ..cfg(&fake, 2000, 0) };
        let found = wifi::scan(fake.ip_addr(), &c).await.unwrap();
        assert_eq!(found.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn plug_already_in_sta_mode_is_left_alone() {
    guard(async {
        let (fake, state) = module(5, Module { wmode: "STA".into(), ..Module::default() }).await;
        let e =
            wifi::join(fake.ip_addr(), "MyNet", Security::Wpa2Aes, Some("secret123"), &cfg(&fake, 2000, 0))
                .await
                .unwrap_err();
        assert_eq!(hf_failure(&e), &HfFailure::AlreadySta);
        assert!(
            e.to_string()
                .ends_with("plug is already in STA mode (joined to a network); reset it to AP mode first"),
            "{e}"
        );
        assert_eq!(fake.received(), ["HF-A11ASSISTHREAD", "+ok", "AT+WMODE\r"]);
        assert_eq!(state.lock().unwrap().ssid, "Reco900000621");
    })
    .await;
}

#[tokio::test]
async fn invalid_settings_fail_before_anything_is_sent() {
    guard(async {
        let (fake, _) = module(6, Module::default()).await;
        let c = cfg(&fake, 2000, 0);
        let ip = fake.ip_addr();
        let ssid33 = "x".repeat(33);
        let e = wifi::join(ip, &ssid33, Security::Wpa2Aes, Some("secret123"), &c).await.unwrap_err();
        assert_eq!(hf_failure(&e), &HfFailure::InvalidWifi(WifiError::SsidTooLong(33)));
        assert!(e.to_string().contains("SSID is 33 bytes long, the maximum is 32"), "{e}");
        // 32 bytes of UTF-8 are fine to validate; 11 × "é" = 22 bytes, plus 11 = 33 is not.
        let e = wifi::join(ip, &format!("{}{}", "é".repeat(11), "y".repeat(11)), Security::Open, None, &c)
            .await
            .unwrap_err();
        assert_eq!(hf_failure(&e), &HfFailure::InvalidWifi(WifiError::SsidTooLong(33)));

        let e = wifi::join(ip, "MyNet", Security::Wpa2Aes, Some("1234567"), &c).await.unwrap_err();
        assert!(
            matches!(hf_failure(&e), HfFailure::InvalidWifi(WifiError::KeyLength { len: 7, .. })),
            "{e:?}"
        );
        assert!(e.to_string().contains("got 7 characters"), "{e}");
        let e = wifi::join(ip, "MyNet", Security::Wpa2Aes, None, &c).await.unwrap_err();
        assert!(
            matches!(hf_failure(&e), HfFailure::InvalidWifi(WifiError::KeyLength { len: 0, .. })),
            "{e:?}"
        );

        let e = wifi::join(ip, "Cafe", Security::Open, Some("secret123"), &c).await.unwrap_err();
        assert_eq!(hf_failure(&e), &HfFailure::InvalidWifi(WifiError::KeyNotAllowed));
        assert!(e.to_string().contains("an OPEN,NONE network takes no key"), "{e}");
        assert!(hf_failure(&e).is_invalid_argument() && !e.is_retryable());

        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(fake.received().is_empty(), "nothing may be sent: {:?}", fake.received());
    })
    .await;
}

#[tokio::test]
async fn read_back_mismatch_stops_before_sta() {
    guard(async {
        let (fake, state) = module(2, Module { mangle_ssid: true, ..Module::default() }).await;
        let e =
            wifi::join(fake.ip_addr(), "MyNet", Security::Wpa2Aes, Some("secret123"), &cfg(&fake, 2000, 0))
                .await
                .unwrap_err();
        assert!(matches!(hf_failure(&e), HfFailure::ReadBackMismatch { setting: "AT+WSSSID", .. }), "{e:?}");
        assert!(e.to_string().contains(r#"sent "MyNet", the plug reports "MyNe""#), "{e}");
        let got = fake.received();
        assert_eq!(got.last().map(String::as_str), Some("AT+WSSSID\r"));
        assert!(!got.iter().any(|d| d.starts_with("AT+WMODE=") || d.starts_with("AT+Z")), "{got:?}");
        assert_eq!(state.lock().unwrap().wmode, "AP");
    })
    .await;
}

#[tokio::test]
async fn rejected_key_is_a_typed_error_with_the_key_masked() {
    guard(async {
        let (fake, _) = module(3, Module { reject_key: Some(-4), ..Module::default() }).await;
        let e =
            wifi::join(fake.ip_addr(), "MyNet", Security::Wpa2Aes, Some("secret123"), &cfg(&fake, 2000, 0))
                .await
                .unwrap_err();
        assert_eq!(
            hf_failure(&e),
            &HfFailure::Rejected {
                command: "AT+WSKEY=WPA2PSK,AES,***".into(),
                code: Some(HfError::InvalidParameter)
            }
        );
        assert!(!e.to_string().contains("secret123"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn scan_lists_networks() {
    guard(async {
        let (fake, _) = module(4, Module::default()).await;
        let found = wifi::scan(fake.ip_addr(), &cfg(&fake, 2000, 0)).await.unwrap();
        assert_eq!(found, networks());
        assert_eq!(fake.received(), ["HF-A11ASSISTHREAD", "+ok", "AT+WSCAN\r"]);
    })
    .await;
}

#[tokio::test]
async fn silent_after_handshake_times_out() {
    guard(async {
        // Answers the password only.
        let port = free_udp_port();
        let fake = FakeUdp::start(lo(5), port, false, |d| {
            if d == b"HF-A11ASSISTHREAD" {
                vec![(Dest::Source, b"127.0.0.5,ACCF23D78A6C,HF-LPB100".to_vec())]
            } else {
                Vec::new()
            }
        })
        .await;
        let c = HfConfig { udp_port: port, quiet: Duration::from_millis(30), ..quick(200, 1) };
        let e = wifi::scan(IpAddr::V4(lo(5)), &c).await.unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
        assert_eq!(fake.received(), ["HF-A11ASSISTHREAD", "+ok", "AT+WSCAN\r", "AT+WSCAN\r"]);
    })
    .await;
}
