//! Kasa JSON replies and their typed models: `Response::parse` (depth guard, error codes),
//! `SysInfo`, `EmeterReading`, `EnergyStat`, and the client's `CloudInfo` and clock
//! readers, on every object of the reply.
//!
//! Input: the decrypted payload of a reply (see `dict/kasa_json.dict`).
//!
//! Checks: no panic (notably no stack overflow on deep nesting); a parsed reply serialises
//! and parses back to itself; an emeter reading re-encoded in its own scheme reads back as
//! a fixed point (one more encode gives the same JSON); energy statistics carry exactly the
//! year, month and day the device sent (no wrapped or truncated numbers).

#![no_main]

use libfuzzer_sys::fuzz_target;
use plugctl_proto::kasa::emeter::EnergyStat;
use plugctl_proto::kasa::{EmeterReading, Response, SysInfo};
use serde_json::{Map, Value};

fn views(m: &Map<String, Value>) {
    if let Ok(s) = SysInfo::from_map(m) {
        let _ = (s.kind(), s.has_emeter(), s.is_on(), s.location());
        let _ = (s.child("0"), s.child("00"), s.child(""));
    }
    if let Ok(r) = EmeterReading::from_map(m) {
        let scheme = EmeterReading::scheme_of(m);
        let once = r.to_wire(scheme);
        let again = EmeterReading::from_map(once.as_object().expect("to_wire gives an object"))
            .expect("a re-encoded reading reads back");
        assert_eq!(again.to_wire(scheme), once, "emeter re-encoding is not a fixed point");
    }
    if let Ok(stats) = EnergyStat::list_from_map(m) {
        // Each entry says exactly what the device sent: no wrapped or truncated numbers.
        let list = m.get("day_list").or_else(|| m.get("month_list")).and_then(Value::as_array);
        let list = list.expect("stats come from a day_list or month_list");
        assert_eq!(stats.len(), list.len());
        for (s, e) in stats.iter().zip(list) {
            let int = |k: &str| e.get(k).and_then(Value::as_i64);
            assert_eq!(Some(i64::from(s.year)), int("year"), "{e}");
            assert_eq!(Some(i64::from(s.month)), int("month"), "{e}");
            assert_eq!(s.day.map(i64::from), int("day"), "{e}");
        }
    }
    let _ = plugctl_client::kasa::cloud::CloudInfo::from_map(m);
    let _ = plugctl_client::kasa::time::civil_of(m);
}

fuzz_target!(|data: &[u8]| {
    let _ = plugctl_capture::kasa::content_of(data);
    let Ok(resp) = Response::parse(data) else { return };
    let _ = resp.first_error();
    let _ = SysInfo::from_response(&resp);
    for (module, v) in resp.as_map() {
        let Some(m) = v.as_object() else { continue };
        views(m);
        for (method, r) in m {
            let _ = resp.result(module, method);
            if let Some(r) = r.as_object() {
                views(r);
            }
        }
    }
    let text = serde_json::to_vec(resp.as_map()).expect("a parsed reply serialises");
    assert_eq!(Response::parse(&text).as_ref(), Ok(&resp), "JSON round trip");
});
