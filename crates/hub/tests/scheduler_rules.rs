//! Rule validation and next-run computation: cron across DST changes (Europe/Berlin and
//! America/New_York: spring gap, fall overlap), sunrise/sunset with offsets at fixed places
//! and dates against almanac times. Pure computations, no sockets, no waiting.

use jiff::{civil, tz::TimeZone, Timestamp, Zoned};
use plugctl_hub::{
    config::Location,
    scheduler::{validate_rule, CompiledRule, Day, Rule, When},
    SwitchAction,
};
use serde_json::{json, Value};

fn rule(v: Value) -> Rule {
    validate_rule(&v).unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn cron(expr: &str, tz: &str) -> CompiledRule {
    let r =
        rule(json!({"id": "r", "device": "kasa-1", "action": "on", "when": {"cron": expr}, "timezone": tz}));
    CompiledRule::new(&r, None).unwrap()
}

/// A local wall time in `tz` (the earlier instant if it occurs twice).
fn local(tz: &str, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
    civil::date(y, mo, d).at(h, mi, 0, 0).to_zoned(TimeZone::get(tz).unwrap()).unwrap().timestamp()
}

fn utc(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn zoned(t: Timestamp, tz: &str) -> Zoned {
    t.to_zoned(TimeZone::get(tz).unwrap())
}

/// The next `n` runs after `from`.
fn runs(c: &CompiledRule, from: Timestamp, n: usize) -> Vec<Timestamp> {
    let mut out = Vec::new();
    let mut t = from;
    for _ in 0..n {
        t = c.next_after(t).expect("a next run");
        out.push(t);
    }
    out
}

// ---- validation -------------------------------------------------------------------------

#[test]
fn full_rule_round_trips_in_the_documented_shape() {
    let v = json!({
        "id": "kettle-morning", "name": "Kettle", "enabled": true, "device": "kasa-8006ABC",
        "outlet": null, "action": "on", "when": {"cron": "30 7 * * 1-5"}, "timezone": "Europe/Berlin"
    });
    let r = rule(v.clone());
    assert_eq!(r.action, SwitchAction::On);
    assert_eq!(r.when, When::Cron("30 7 * * 1-5".into()));
    assert_eq!(r.to_json(), v);
    assert_eq!(validate_rule(&r.to_json()).unwrap(), r);

    let sun = rule(json!({"id": "porch", "device": "hf-ACCF23000001", "action": "off", "outlet": 2,
        "when": {"sunrise": {"offset_min": -15}}, "days": ["Sunday", "sat", "sat"]}));
    assert_eq!(sun.days, Some(vec![Day::Sat, Day::Sun]));
    assert_eq!(sun.outlet, Some(2));
    assert!(sun.enabled, "enabled defaults to true");
    assert_eq!(
        sun.to_json(),
        json!({"id": "porch", "name": "", "enabled": true, "device": "hf-ACCF23000001", "outlet": 2,
            "action": "off", "when": {"sunrise": {"offset_min": -15}}, "days": ["sat", "sun"]})
    );
    // Offsets default to 0; `state` written by the scheduler is accepted back.
    let r = rule(json!({"id": "s", "device": "d", "action": "toggle", "when": {"sunset": {}},
        "state": {"checked_ms": 5, "last_run_ms": 5, "last_outcome": "ran"}}));
    assert_eq!(r.when, When::Sunset(Default::default()));
    assert_eq!(r.state.unwrap().last_run_ms, Some(5));
}

#[test]
fn validation_messages_name_the_problem() {
    let base = json!({"id": "r", "device": "kasa-1", "action": "on", "when": {"cron": "30 7 * * *"}});
    let with = |k: &str, v: Value| {
        let mut m = base.clone();
        m[k] = v;
        m
    };
    let without = |k: &str| {
        let mut m = base.clone();
        m.as_object_mut().unwrap().remove(k);
        m
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!([1]), "must be a JSON object"),
        (with("colour", json!("red")), "unknown field \"colour\""),
        (without("id"), "id is missing"),
        (with("id", json!("a b")), "id \"a b\" contains ' '"),
        (with("id", json!("x".repeat(65))), "1 to 64 characters"),
        (without("device"), "device is missing"),
        (with("device", json!(5)), "device must be a string, not a number"),
        (without("action"), "action is missing"),
        (with("action", json!("flip")), "action must be \"on\", \"off\" or \"toggle\", not \"flip\""),
        (with("outlet", json!(-1)), "outlet must be null or an outlet index 0-63"),
        (with("outlet", json!("1")), "outlet must be null or an outlet index, not a string"),
        (with("enabled", json!("yes")), "enabled must be true or false"),
        (without("when"), "when is missing"),
        (with("when", json!({})), "exactly one of cron, sunrise, sunset"),
        (with("when", json!({"cron": "30 7 * * *", "sunset": {}})), "exactly one of"),
        (with("when", json!({"moonrise": {}})), "unknown kind \"moonrise\""),
        (with("when", json!({"cron": "30 7 * *"})), "has 4 field(s); five are needed"),
        (with("when", json!({"cron": "0 30 7 * * *"})), "has 6 field(s)"),
        (with("when", json!({"cron": "61 7 * * *"})), "the minute field \"61\" is invalid (0-59)"),
        (with("when", json!({"cron": "0 24 * * *"})), "the hour field \"24\" is invalid (0-23)"),
        (with("when", json!({"cron": "0 7 * * funday"})), "the day-of-week field"),
        (with("when", json!({"cron": "0 0 31 2 *"})), "never matches a real date"),
        (with("when", json!({"cron": 730})), "when.cron must be a string"),
        (
            with("when", json!({"sunrise": {"offset_min": 721}})),
            "offset_min must be whole minutes from -720 to 720",
        ),
        (with("when", json!({"sunrise": {"offset_min": 1.5}})), "offset_min must be whole minutes"),
        (with("when", json!({"sunrise": {"offset": 5}})), "unknown field \"offset\" (only offset_min)"),
        (with("days", json!(["mon"])), "days applies to sunrise/sunset rules"),
        (with("timezone", json!("Mars/Olympus")), "timezone \"Mars/Olympus\" is not a known IANA zone"),
        (with("state", json!({"checked_ms": "x"})), "state (written by the scheduler) is malformed"),
    ];
    for (v, want) in cases {
        let e = validate_rule(&v).expect_err(&v.to_string());
        assert!(e.contains(want), "{v}\n  got:  {e}\n  want: …{want}…");
    }
    let sun = json!({"id": "r", "device": "d", "action": "on", "when": {"sunset": {}}, "days": []});
    assert!(validate_rule(&sun).unwrap_err().contains("days is empty"));
    let sun = json!({"id": "r", "device": "d", "action": "on", "when": {"sunset": {}}, "days": ["mon", "x"]});
    assert!(validate_rule(&sun).unwrap_err().contains("\"x\" is not a weekday"));
}

// ---- cron and DST -----------------------------------------------------------------------

const BERLIN: &str = "Europe/Berlin";
const NEW_YORK: &str = "America/New_York";

#[test]
fn a_0730_rule_runs_at_0730_local_on_both_sides_of_both_berlin_changes() {
    let c = cron("30 7 * * *", BERLIN);
    // Spring: 2026-03-29 02:00 CET → 03:00 CEST.
    let r = runs(&c, local(BERLIN, 2026, 3, 27, 12, 0), 3);
    assert_eq!(
        r,
        vec![utc("2026-03-28T06:30:00Z"), utc("2026-03-29T05:30:00Z"), utc("2026-03-30T05:30:00Z")]
    );
    for t in &r {
        let z = zoned(*t, BERLIN);
        assert_eq!((z.hour(), z.minute()), (7, 30), "{z}");
    }
    // Autumn: 2026-10-25 03:00 CEST → 02:00 CET: 25 hours apart.
    let r = runs(&c, local(BERLIN, 2026, 10, 24, 12, 0), 2);
    assert_eq!(r, vec![utc("2026-10-25T06:30:00Z"), utc("2026-10-26T06:30:00Z")]);
    assert_eq!(r[1].duration_since(r[0]).as_hours(), 24);
    assert_eq!(utc("2026-10-25T06:30:00Z").duration_since(utc("2026-10-24T05:30:00Z")).as_hours(), 25);
}

#[test]
fn berlin_spring_gap_runs_at_the_first_instant_after_it() {
    // 02:30 does not exist on 2026-03-29: the run is at 03:00 CEST (01:00 UTC), the change.
    let c = cron("30 2 * * *", BERLIN);
    let r = runs(&c, local(BERLIN, 2026, 3, 28, 12, 0), 2);
    assert_eq!(r, vec![utc("2026-03-29T01:00:00Z"), utc("2026-03-30T00:30:00Z")]);
    assert_eq!(zoned(r[0], BERLIN).hour(), 3);
    // Every skipped time of the gap runs once, at the change, not once per match.
    let c = cron("*/15 2 * * *", BERLIN);
    let r = runs(&c, local(BERLIN, 2026, 3, 29, 1, 50), 2);
    assert_eq!(r, vec![utc("2026-03-29T01:00:00Z"), utc("2026-03-30T00:00:00Z")]);
    // A time right after the gap is not disturbed.
    let c = cron("0 3 * * *", BERLIN);
    assert_eq!(c.next_after(local(BERLIN, 2026, 3, 29, 0, 0)), Some(utc("2026-03-29T01:00:00Z")));
}

#[test]
fn berlin_fall_overlap_runs_once_at_the_first_occurrence() {
    // 02:30 happens twice on 2026-10-25 (CEST, then CET): it runs at the first only.
    let c = cron("30 2 * * *", BERLIN);
    let r = runs(&c, local(BERLIN, 2026, 10, 24, 12, 0), 2);
    assert_eq!(r, vec![utc("2026-10-25T00:30:00Z"), utc("2026-10-26T01:30:00Z")]);
    // Asked from inside the repeated hour (e.g. the hub restarted at 02:10 CET), the wall
    // time 02:30 has already happened that night.
    assert_eq!(c.next_after(utc("2026-10-25T01:10:00Z")), Some(utc("2026-10-26T01:30:00Z")));
    // A half-hourly rule goes through the repeated hour once on the wall clock.
    let c = cron("*/30 * * * *", BERLIN);
    let r = runs(&c, utc("2026-10-24T23:45:00Z"), 4);
    assert_eq!(
        r,
        vec![
            utc("2026-10-25T00:00:00Z"), // 02:00 CEST
            utc("2026-10-25T00:30:00Z"), // 02:30 CEST
            utc("2026-10-25T02:00:00Z"), // 03:00 CET (02:00 and 02:30 CET were already run)
            utc("2026-10-25T02:30:00Z"),
        ]
    );
}

#[test]
fn new_york_gap_and_overlap() {
    // Spring: 2026-03-08 02:00 EST → 03:00 EDT.
    let c = cron("30 2 * * *", NEW_YORK);
    let r = runs(&c, local(NEW_YORK, 2026, 3, 7, 12, 0), 2);
    assert_eq!(r, vec![utc("2026-03-08T07:00:00Z"), utc("2026-03-09T06:30:00Z")]);
    assert_eq!(zoned(r[0], NEW_YORK).hour(), 3);
    // Weekday rule across the change: Friday 07:00 EST, Monday 07:00 EDT.
    let c = cron("0 7 * * 1-5", NEW_YORK);
    let r = runs(&c, local(NEW_YORK, 2026, 3, 6, 6, 0), 2);
    assert_eq!(r, vec![utc("2026-03-06T12:00:00Z"), utc("2026-03-09T11:00:00Z")]);
    // Autumn: 2026-11-01 02:00 EDT → 01:00 EST; 01:30 happens twice and runs once.
    let c = cron("30 1 * * *", NEW_YORK);
    let r = runs(&c, local(NEW_YORK, 2026, 10, 31, 12, 0), 2);
    assert_eq!(r, vec![utc("2026-11-01T05:30:00Z"), utc("2026-11-02T06:30:00Z")]);
    assert_eq!(c.next_after(utc("2026-11-01T06:10:00Z")), Some(utc("2026-11-02T06:30:00Z")));
    // 07:30 stays 07:30 local.
    let c = cron("30 7 * * *", NEW_YORK);
    let r = runs(&c, local(NEW_YORK, 2026, 10, 31, 12, 0), 2);
    assert_eq!(r, vec![utc("2026-11-01T12:30:00Z"), utc("2026-11-02T12:30:00Z")]);
}

#[test]
fn the_default_zone_is_the_locations_and_latest_between_finds_the_last_miss() {
    let loc = Location { latitude: 52.52, longitude: 13.405, timezone: Some(BERLIN.into()) };
    let r = rule(json!({"id": "r", "device": "d", "action": "on", "when": {"cron": "30 7 * * *"}}));
    let c = CompiledRule::new(&r, Some(&loc)).unwrap();
    assert_eq!(c.time_zone().iana_name(), Some(BERLIN));
    assert_eq!(c.next_after(utc("2026-07-01T00:00:00Z")), Some(utc("2026-07-01T05:30:00Z")));
    // Three days of downtime: the latest due run is the third.
    let since = utc("2026-07-01T06:00:00Z");
    assert_eq!(c.latest_between(since, utc("2026-07-04T06:00:00Z")), Some(utc("2026-07-04T05:30:00Z")));
    assert_eq!(c.latest_between(since, utc("2026-07-01T07:00:00Z")), None);
}

#[test]
fn day_fields_combine_like_vixie_cron_and_names_work() {
    // Day-of-month 13 or a Friday (both restricted: either matches).
    let c = cron("0 8 13 * FRI", BERLIN);
    let r = runs(&c, local(BERLIN, 2026, 2, 9, 0, 0), 3);
    let days: Vec<i8> = r.iter().map(|t| zoned(*t, BERLIN).day()).collect();
    assert_eq!(days, vec![13, 20, 27], "Fri 13 Feb, Fri 20, Fri 27");
    let r = runs(&c, local(BERLIN, 2026, 3, 10, 0, 0), 2);
    let days: Vec<i8> = r.iter().map(|t| zoned(*t, BERLIN).day()).collect();
    assert_eq!(days, vec![13, 20], "Fri 13 Mar, then Fri 20");
    let r = runs(&cron("0 8 12 * *", BERLIN), local(BERLIN, 2026, 3, 10, 0, 0), 1);
    assert_eq!(zoned(r[0], BERLIN).day(), 12);
    let c = cron("@daily", NEW_YORK);
    assert_eq!(c.next_after(local(NEW_YORK, 2026, 3, 7, 12, 0)), Some(local(NEW_YORK, 2026, 3, 8, 0, 0)));
}

// ---- sunrise and sunset -----------------------------------------------------------------

fn sun(when: Value, loc: &Location, days: Option<Value>) -> CompiledRule {
    let mut v = json!({"id": "s", "device": "d", "action": "on", "when": when});
    if let Some(d) = days {
        v["days"] = d;
    }
    CompiledRule::new(&rule(v), Some(loc)).unwrap()
}

/// Minutes after local midnight.
fn local_min(t: Timestamp, tz: &str) -> i32 {
    let z = zoned(t, tz);
    i32::from(z.hour()) * 60 + i32::from(z.minute())
}

fn near(got: i32, want: i32, what: &str) {
    assert!(
        (got - want).abs() <= 2,
        "{what}: got {:02}:{:02}, want {:02}:{:02} (±2 min)",
        got / 60,
        got % 60,
        want / 60,
        want % 60
    );
}

#[test]
fn sunrise_and_sunset_with_offsets_match_almanac_times() {
    // Berlin, 21 June 2024: sunrise 04:43, sunset 21:33 CEST.
    let berlin = Location { latitude: 52.52, longitude: 13.405, timezone: Some(BERLIN.into()) };
    let from = local(BERLIN, 2024, 6, 21, 0, 0);
    let rise = sun(json!({"sunrise": {"offset_min": -15}}), &berlin, None).next_after(from).unwrap();
    assert_eq!(zoned(rise, BERLIN).date(), civil::date(2024, 6, 21));
    near(local_min(rise, BERLIN), 4 * 60 + 43 - 15, "Berlin sunrise −15");
    let set = sun(json!({"sunset": {"offset_min": 10}}), &berlin, None).next_after(from).unwrap();
    near(local_min(set, BERLIN), 21 * 60 + 33 + 10, "Berlin sunset +10");
    // New York, 21 December 2024: sunrise 07:16, sunset 16:32 EST.
    let ny = Location { latitude: 40.7128, longitude: -74.006, timezone: Some(NEW_YORK.into()) };
    let from = local(NEW_YORK, 2024, 12, 21, 0, 0);
    let rise = sun(json!({"sunrise": {"offset_min": -15}}), &ny, None).next_after(from).unwrap();
    near(local_min(rise, NEW_YORK), 7 * 60 + 16 - 15, "New York sunrise −15");
    let set = sun(json!({"sunset": {"offset_min": 0}}), &ny, None).next_after(from).unwrap();
    near(local_min(set, NEW_YORK), 16 * 60 + 32, "New York sunset");
    assert_eq!(zoned(set, NEW_YORK).date(), civil::date(2024, 12, 21));
}

#[test]
fn sun_rules_follow_dst_and_the_weekday_filter() {
    let berlin = Location { latitude: 52.52, longitude: 13.405, timezone: Some(BERLIN.into()) };
    // Sunrise moves by about an hour on the wall clock over the 2024-03-31 change.
    let c = sun(json!({"sunrise": {}}), &berlin, None);
    let r = runs(&c, local(BERLIN, 2024, 3, 30, 0, 0), 2);
    let (sat, sun_day) = (local_min(r[0], BERLIN), local_min(r[1], BERLIN));
    assert_eq!(zoned(r[0], BERLIN).date(), civil::date(2024, 3, 30));
    assert!((55..=60).contains(&(sun_day - sat)), "{sat} → {sun_day}");
    // Weekends only: from Monday 2024-06-17 the next runs are Saturday and Sunday.
    let c = sun(json!({"sunset": {"offset_min": 10}}), &berlin, Some(json!(["sat", "sun"])));
    let r = runs(&c, local(BERLIN, 2024, 6, 17, 0, 0), 3);
    let dates: Vec<_> = r.iter().map(|t| zoned(*t, BERLIN).date()).collect();
    assert_eq!(dates, vec![civil::date(2024, 6, 22), civil::date(2024, 6, 23), civil::date(2024, 6, 29)]);
    // A sun rule needs a location.
    let r = rule(json!({"id": "s", "device": "d", "action": "on", "when": {"sunset": {}}}));
    let e = CompiledRule::new(&r, None).unwrap_err();
    assert!(e.contains("[location] latitude and longitude"), "{e}");
    // Polar night: no sunrise in Tromsø in mid-December, the next is in January.
    let tromso = Location { latitude: 69.65, longitude: 18.96, timezone: Some("Europe/Oslo".into()) };
    let next =
        sun(json!({"sunrise": {}}), &tromso, None).next_after(local("Europe/Oslo", 2024, 12, 10, 0, 0));
    assert_eq!(next.map(|t| zoned(t, "Europe/Oslo").month()), Some(1));
}
