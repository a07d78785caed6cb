//! The device clock and energy statistics without sockets, with injected instants: setting
//! the time and zone changes what `get_time` reports, statistics accumulate from the
//! simulated power by the device's local date, erasing clears them, strip outlets are
//! independent, and both unit schemes are kept.

use std::time::{Duration, Instant};

use plugctl_emulator::kasa::{builtin, device::zones, DeviceState};
use serde_json::{json, Value};

fn device(name: &str) -> DeviceState {
    builtin(name).expect("built-in profile").instantiate(0, 1)
}

fn ask(dev: &mut DeviceState, req: Value, now: Instant) -> Value {
    let reply = dev.handle(req.to_string().as_bytes(), now).expect("a reply");
    serde_json::from_slice(&reply).expect("JSON reply")
}

fn local(dev: &mut DeviceState, now: Instant) -> (i64, i64, i64, i64, i64, i64) {
    let t = ask(dev, json!({"time": {"get_time": {}}}), now)["time"]["get_time"].clone();
    let f = |k: &str| t[k].as_i64().expect("integer field");
    (f("year"), f("month"), f("mday"), f("hour"), f("min"), f("sec"))
}

fn set_clock(dev: &mut DeviceState, index: i64, date: (i64, i64, i64, i64, i64, i64), now: Instant) {
    let (year, month, mday, hour, min, sec) = date;
    let r = ask(
        dev,
        json!({"time": {"set_timezone": {"index": index, "year": year, "month": month, "mday": mday,
                                         "hour": hour, "min": min, "sec": sec}}}),
        now,
    );
    assert_eq!(r["time"]["set_timezone"], json!({"err_code": 0}));
}

fn day_energy(dev: &mut DeviceState, req: Value, now: Instant, key: &str) -> Vec<(i64, f64)> {
    let r = ask(dev, req, now);
    let m = r["emeter"].as_object().and_then(|m| m.values().next()).cloned().unwrap_or_default();
    let list = m["day_list"].as_array().or(m["month_list"].as_array()).cloned().unwrap_or_default();
    list.iter()
        .map(|e| {
            let unit = if e.get("energy_wh").is_some() {
                e["energy_wh"].as_f64().unwrap() / 1000.0
            } else {
                e["energy"].as_f64().unwrap()
            };
            (e[key].as_i64().unwrap(), unit)
        })
        .collect()
}

#[test]
fn set_time_and_zone_change_the_reported_time() {
    let t0 = Instant::now();
    let mut d = device("hs110-hw4");
    set_clock(&mut d, 38, (2016, 1, 1, 10, 10, 10), t0);
    assert_eq!(local(&mut d, t0), (2016, 1, 1, 10, 10, 10));
    assert_eq!(ask(&mut d, json!({"time": {"get_timezone": {}}}), t0)["time"]["get_timezone"]["index"], 38);
    // Time runs on.
    assert_eq!(local(&mut d, t0 + Duration::from_secs(65)), (2016, 1, 1, 10, 11, 15));
    // A zone alone keeps the instant: Tokyo is 9 h ahead of UTC.
    let r = ask(&mut d, json!({"time": {"set_timezone": {"index": 90}}}), t0 + Duration::from_secs(65));
    assert_eq!(r["time"]["set_timezone"]["err_code"], 0);
    assert_eq!(local(&mut d, t0 + Duration::from_secs(65)), (2016, 1, 1, 19, 11, 15));
    // set_time sets the local time in the current zone.
    let r = ask(
        &mut d,
        json!({"time": {"set_time": {"year": 2020, "month": 2, "mday": 29, "hour": 23, "min": 59, "sec": 50}}}),
        t0 + Duration::from_secs(65),
    );
    assert_eq!(r["time"]["set_time"]["err_code"], 0);
    assert_eq!(local(&mut d, t0 + Duration::from_secs(75)), (2020, 3, 1, 0, 0, 0));
    // Only some date fields, a bad index, a date that does not exist: -3, nothing changed.
    for bad in [
        json!({"index": 41, "year": 2016}),
        json!({"index": 110}),
        json!({"index": 41, "year": 2021, "month": 2, "mday": 30, "hour": 0, "min": 0, "sec": 0}),
    ] {
        let r = ask(&mut d, json!({"time": {"set_timezone": bad}}), t0 + Duration::from_secs(75));
        assert_eq!(r["time"]["set_timezone"]["err_code"], -3, "{r}");
    }
    assert_eq!(ask(&mut d, json!({"time": {"get_timezone": {}}}), t0)["time"]["get_timezone"]["index"], 90);
}

#[test]
fn statistics_accumulate_by_device_date_and_erase_clears_them() {
    let t0 = Instant::now();
    let mut d = device("hs110-hw4"); // ~60 W, integer units
    set_clock(&mut d, 38, (2016, 1, 31, 23, 30, 0), t0);
    let t1 = t0 + Duration::from_secs(3600);
    let jan = day_energy(&mut d, json!({"emeter": {"get_daystat": {"year": 2016, "month": 1}}}), t1, "day");
    let feb = day_energy(&mut d, json!({"emeter": {"get_daystat": {"year": 2016, "month": 2}}}), t1, "day");
    assert_eq!(jan.len(), 1, "{jan:?}");
    assert_eq!(jan[0].0, 31);
    assert!((0.028..=0.032).contains(&jan[0].1), "half an hour at 60 W on Jan 31: {jan:?}");
    assert_eq!(feb.len(), 1, "{feb:?}");
    assert_eq!(feb[0].0, 1);
    assert!((0.028..=0.032).contains(&feb[0].1), "{feb:?}");
    let months = day_energy(&mut d, json!({"emeter": {"get_monthstat": {"year": 2016}}}), t1, "month");
    assert_eq!(months.iter().map(|m| m.0).collect::<Vec<_>>(), vec![1, 2]);
    // The realtime total rose by the same hour.
    let r = ask(&mut d, json!({"emeter": {"erase_emeter_stat": null}}), t1);
    assert_eq!(r["emeter"]["erase_emeter_stat"], json!({"err_code": 0}));
    assert!(day_energy(&mut d, json!({"emeter": {"get_monthstat": {"year": 2016}}}), t1, "month").is_empty());
    assert!(day_energy(&mut d, json!({"emeter": {"get_daystat": {"year": 2016, "month": 1}}}), t1, "day")
        .is_empty());
    // Accumulation resumes after the erase.
    let feb = day_energy(
        &mut d,
        json!({"emeter": {"get_daystat": {"year": 2016, "month": 2}}}),
        t1 + Duration::from_secs(1800),
        "day",
    );
    assert!((0.028..=0.032).contains(&feb[0].1), "{feb:?}");
}

#[test]
fn float_scheme_statistics_are_kwh() {
    let t0 = Instant::now();
    let mut d = device("hs110-hw1");
    set_clock(&mut d, 38, (2016, 11, 1, 0, 0, 0), t0);
    let r = ask(
        &mut d,
        json!({"emeter": {"get_daystat": {"year": 2016, "month": 11}}}),
        t0 + Duration::from_secs(7200),
    );
    let entry = &r["emeter"]["get_daystat"]["day_list"][0];
    assert!(entry.get("energy_wh").is_none(), "{entry}");
    let kwh = entry["energy"].as_f64().expect("float kWh");
    assert!((0.05..=0.15).contains(&kwh), "two hours of the hw1 load: {entry}");
}

#[test]
fn strip_outlets_keep_separate_statistics() {
    let t0 = Instant::now();
    let mut d = device("hs300");
    let ids = d.child_ids();
    set_clock(&mut d, 38, (2016, 5, 10, 8, 0, 0), t0);
    let t1 = t0 + Duration::from_secs(3600);
    let of = |d: &mut DeviceState, id: &str, t| {
        day_energy(
            d,
            json!({"context": {"child_ids": [id]}, "emeter": {"get_daystat": {"year": 2016, "month": 5}}}),
            t,
            "day",
        )
    };
    let before: Vec<f64> = ids.iter().map(|id| of(&mut d, id, t1).iter().map(|e| e.1).sum()).collect();
    assert!(before.iter().all(|e| *e > 0.0), "{before:?}");
    assert!(
        before.windows(2).any(|w| (w[0] - w[1]).abs() > 0.001),
        "outlets draw different loads: {before:?}"
    );
    let r = ask(&mut d, json!({"context": {"child_ids": [ids[1]]}, "emeter": {"erase_emeter_stat": {}}}), t1);
    assert_eq!(r["emeter"]["erase_emeter_stat"]["err_code"], 0);
    for (i, id) in ids.iter().enumerate() {
        let now: f64 = of(&mut d, id, t1).iter().map(|e| e.1).sum();
        if i == 1 {
            assert_eq!(now, 0.0, "erased outlet");
        } else {
            assert_eq!(now, before[i], "outlet {i} untouched");
        }
    }
    // Switching one outlet off stops only its statistics.
    ask(&mut d, json!({"context": {"child_ids": [ids[0]]}, "system": {"set_relay_state": {"state": 0}}}), t1);
    let t2 = t1 + Duration::from_secs(3600);
    assert_eq!(of(&mut d, &ids[0], t2).iter().map(|e| e.1).sum::<f64>(), before[0]);
    assert!(of(&mut d, &ids[2], t2).iter().map(|e| e.1).sum::<f64>() > before[2]);
}

#[test]
fn zone_table_is_complete() {
    for i in 0..=zones::MAX_INDEX {
        let name = zones::zone_name(i).expect("every index has a zone");
        assert!(jiff::tz::TimeZone::get(name).is_ok(), "{i} {name}");
    }
    assert!(zones::zone_name(zones::MAX_INDEX + 1).is_none());
}
