//! Hi-Flying control replies on TCP 8899 (`plugctl_proto::hf::reply`, `measurement`):
//! `+ok`, `+ok=<csv>`, `+ERROR`, `+ERR=<n>`, and the typed `AT+YZOUT` reading; plus the
//! capture crate's text view of the same bytes.
//!
//! Checks: no panic; a decoded reply re-encodes (both line endings) to bytes that decode to
//! the same reply; `parse_detailed` agrees with `parse` and keeps only non-empty extra
//! lines; a decoded reading re-encodes to the same CSV, and the SI view converts back to
//! the same wire units.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plugctl_proto::hf::reply::parse_detailed;
use plugctl_proto::hf::{LineEnding, Measurement, RawMeasurement, Reply};

fuzz_target!(|data: &[u8]| {
    let _ = plugctl_capture::hf::text_content(data);
    let reply = Reply::parse(data);
    let detailed = parse_detailed(data);
    assert_eq!(reply, detailed.as_ref().map(|d| d.reply.clone()).map_err(Clone::clone));
    if let Ok(d) = &detailed {
        assert!(d.extra_lines.iter().all(|l| !l.is_empty()), "{d:?}");
    }
    if let Ok(r) = &reply {
        for ending in [LineEnding::CrLf, LineEnding::None] {
            assert_eq!(Reply::parse(r.encode(ending).as_bytes()).as_ref(), Ok(r), "{ending:?}");
        }
        assert_eq!(r.to_wire(), r.to_string());
    }

    let measured = Measurement::parse(data);
    if let Ok(Reply::OkValue(csv)) = &reply {
        assert_eq!(measured, Measurement::parse_value(csv));
        if let Ok(raw) = RawMeasurement::parse_value(csv) {
            assert_eq!(RawMeasurement::parse_value(&raw.to_value()), Ok(raw));
            assert_eq!(Measurement::from_raw(raw).to_raw(), raw, "SI round trip");
            let m = Measurement::from_raw(raw);
            assert_eq!(Measurement::parse(m.to_wire().as_bytes()), Ok(m));
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = RawMeasurement::parse_value(text);
    }
});
