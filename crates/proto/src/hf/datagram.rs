//! Server side of UDP 48899 (hf-protocol.md §5.3): classifying an incoming datagram for the
//! emulator. Trailing `\r`, `\n` and NUL are stripped first.
//!
//! | Datagram | Class |
//! |---|---|
//! | `YZ-RECOSCAN` | [`UdpRequest::RecoScan`] |
//! | the assist password (exact, case-sensitive; default `HF-A11ASSISTHREAD`) | [`UdpRequest::AssistPassword`] |
//! | `+ok` (any case) | [`UdpRequest::Ok`] |
//! | `AT+<verb>[=<arg>]` (any case; first line only) | [`UdpRequest::At`] |
//! | `AT`, `AT+`, `AT+<verb with space or symbol>` | [`UdpRequest::MalformedAt`] (→ `+ERR=-1`) |
//! | empty, `smartlinkfind`, other vendors' passwords, `RZ-RECOSCAN`, `AT+RECOSCAN`, binary… | [`UdpRequest::Ignore`] |
//!
//! `AT+RECOSCAN` (a client typo for the discovery string) is listed by §5.3 among the
//! datagrams to ignore, so it is [`UdpRequest::Ignore`] rather than an unknown AT command.

use crate::hf::text::{lines, preview, strip_prefix_ci, text};
use crate::hf::RECOSCAN;

/// What an incoming UDP 48899 datagram asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UdpRequest {
    /// Reco discovery: answer with a [`RecoScanReply`](crate::hf::recoscan::RecoScanReply).
    RecoScan,
    /// The assist password (as received, equal to the configured one): answer with an
    /// [`AssistReply`](crate::hf::assist::AssistReply).
    AssistPassword(String),
    /// The `+ok` that enters AT mode: no reply.
    Ok,
    /// A Hi-Flying AT command: answer `+ok[=…]\r\n\r\n` or `+ERR=<n>\r\n\r\n`.
    At {
        /// The verb, upper-cased (`WSSSID` for `at+wsssid=x`).
        verb: String,
        /// The text after the first `=`, verbatim; `None` for a query without `=`,
        /// `Some("")` for `AT+X=`.
        arg: Option<String>,
    },
    /// Starts like an AT command but is malformed (`AT`, `AT+`, spaces or symbols in the
    /// verb); the first line, shortened. §5.3 suggests `+ERR=-1` \[G\].
    MalformedAt(String),
    /// Anything else: no reply.
    Ignore,
}

/// Classifies a datagram; `assist_password` is the configured one (an empty password never
/// matches).
pub fn classify(datagram: &[u8], assist_password: &str) -> UdpRequest {
    let text = text(datagram);
    let s = text.trim_end_matches(['\r', '\n', '\0']);
    if s.is_empty() {
        return UdpRequest::Ignore;
    }
    if s == RECOSCAN {
        return UdpRequest::RecoScan;
    }
    if !assist_password.is_empty() && s == assist_password {
        return UdpRequest::AssistPassword(s.to_string());
    }
    if s.eq_ignore_ascii_case("+ok") {
        return UdpRequest::Ok;
    }
    let first = lines(s).next().unwrap_or_default();
    if first.eq_ignore_ascii_case("AT") {
        return UdpRequest::MalformedAt(preview(first));
    }
    let Some(rest) = strip_prefix_ci(first, "AT+") else {
        return UdpRequest::Ignore;
    };
    let (verb, arg) = match rest.split_once('=') {
        Some((verb, arg)) => (verb, Some(arg.to_string())),
        None => (rest, None),
    };
    if verb.is_empty() || !verb.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return UdpRequest::MalformedAt(preview(first));
    }
    let verb = verb.to_ascii_uppercase();
    if verb == "RECOSCAN" {
        return UdpRequest::Ignore;
    }
    UdpRequest::At { verb, arg }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hf::assist::AtRequest;
    use crate::hf::DEFAULT_ASSIST_PASSWORD as PW;
    use proptest::prelude::*;

    fn at(verb: &str, arg: Option<&str>) -> UdpRequest {
        UdpRequest::At { verb: verb.into(), arg: arg.map(str::to_string) }
    }

    #[test]
    fn reference_vectors() {
        // §5.6
        assert_eq!(classify(b"\x59\x5A\x2D\x52\x45\x43\x4F\x53\x43\x41\x4E", PW), UdpRequest::RecoScan);
        assert_eq!(
            classify(b"\x48\x46\x2D\x41\x31\x31\x41\x53\x53\x49\x53\x54\x48\x52\x45\x41\x44", PW),
            UdpRequest::AssistPassword(PW.into())
        );
        assert_eq!(classify(b"+ok", PW), UdpRequest::Ok);
        assert_eq!(classify(b"AT+WSSSID=MyNet\r", PW), at("WSSSID", Some("MyNet")));
        assert_eq!(classify(b"AT+NOPE\r", PW), at("NOPE", None));
    }

    #[test]
    fn edge_inputs_of_5_5() {
        assert_eq!(classify(b"YZ-RECOSCAN\0", PW), UdpRequest::RecoScan);
        assert_eq!(classify(b"YZ-RECOSCAN\r\n", PW), UdpRequest::RecoScan);
        assert_eq!(classify(b"HF-A11ASSISTHREAD\r\n", PW), UdpRequest::AssistPassword(PW.into()));
        for ignored in [
            &b"HF-A11ASSISTHREADX"[..],
            b"HF-A11",
            b"hf-a11assistthread",
            b"WIFIKIT-214028-READ",
            b"www.usr.cn",
            b"smartlinkfind",
            b"RZ-RECOSCAN",
            b"AT+RECOSCAN",
            b"at+recoscan\r\n",
            b"",
            b"\r\n\0",
            b"yz-recoscan",
            b"ATZ",
            b"\xff\xfe",
            b" +ok",
        ] {
            assert_eq!(classify(ignored, PW), UdpRequest::Ignore, "{ignored:?}");
        }
        assert_eq!(
            classify(b"WIFIKIT-214028-READ", "WIFIKIT-214028-READ"),
            UdpRequest::AssistPassword("WIFIKIT-214028-READ".into())
        );
        assert_eq!(classify(b"", ""), UdpRequest::Ignore);
        assert_eq!(classify(b"+OK\r\n", PW), UdpRequest::Ok);
        assert_eq!(classify(b"at+wsssid=My Net, x\r", PW), at("WSSSID", Some("My Net, x")));
        assert_eq!(classify(b"AT+WSKEY=OPEN,NONE\n", PW), at("WSKEY", Some("OPEN,NONE")));
        assert_eq!(classify(b"AT+WSKEY=OPEN,NONE,\r\n", PW), at("WSKEY", Some("OPEN,NONE,")));
        assert_eq!(classify(b"AT+WSSSID=\r", PW), at("WSSSID", Some("")));
        assert_eq!(classify(b"AT+WSCAN=a=b", PW), at("WSCAN", Some("a=b")));
        assert_eq!(classify("AT+WSSSID=Café ☕\r".as_bytes(), PW), at("WSSSID", Some("Café ☕")));
        for q in ["AT+Q\r", "AT+Z\r", "AT+RELD\r"] {
            assert!(matches!(classify(q.as_bytes(), PW), UdpRequest::At { arg: None, .. }), "{q}");
        }
        // multi-line datagram: first line only [G]
        assert_eq!(classify(b"AT+VER\rAT+Z\r", PW), at("VER", None));
        for malformed in
            [&b"AT"[..], b"at\r", b"AT+", b"AT+=x", b"AT+W SCAN", b"AT+WSCAN ", b"AT+WS-CAN", b"AT+\xff"]
        {
            assert!(matches!(classify(malformed, PW), UdpRequest::MalformedAt(_)), "{malformed:?}");
        }
    }

    proptest! {
        #[test]
        fn at_requests_round_trip(verb in "[A-Za-z0-9]{1,10}", arg in proptest::option::of("[^\r\n\0]{0,40}"), term in prop_oneof![Just(""), Just("\r"), Just("\n"), Just("\r\n")]) {
            prop_assume!(!verb.eq_ignore_ascii_case("RECOSCAN"));
            let req = match &arg {
                Some(a) => AtRequest::set(&verb, a).unwrap(),
                None => AtRequest::query(&verb).unwrap(),
            };
            let mut wire = req.line();
            wire.push_str(term);
            prop_assert_eq!(classify(wire.as_bytes(), PW), UdpRequest::At { verb: verb.to_ascii_uppercase(), arg });
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), pw in "\\PC{0,20}") {
            let _ = classify(&bytes, &pw);
            let _ = classify(&bytes, PW);
        }
    }
}
