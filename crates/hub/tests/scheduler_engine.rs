//! The scheduler engine with a manual clock and an in-memory host: runs at the due instant
//! across a DST change, persists its state, and applies the missed-run policy after
//! "downtime" (a new scheduler over the same stored rules, the clock moved on). No waiting
//! on the wall clock: every wait is on an effect, with a hang guard.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use futures::future::BoxFuture;
use jiff::{civil, tz::TimeZone, SignedDuration, Timestamp};
use plugctl_hub::{
    config::Location,
    events::HubEvent,
    model::DeviceId,
    scheduler::{
        validate_rule, validate_rule_for, Clock, ManualClock, Outcome, RuleState, ScheduleHost, Scheduler,
        SchedulerHandle, SchedulerOptions, SwitchResult,
    },
    store::StoredSchedule,
    SwitchAction,
};
use serde_json::{json, Value};

const HANG_GUARD: Duration = Duration::from_secs(20);
const BERLIN: &str = "Europe/Berlin";

#[derive(Default)]
struct FakeHost {
    rules: Mutex<BTreeMap<String, Value>>,
    switches: Mutex<Vec<(DeviceId, SwitchAction, Option<usize>)>>,
    events: Mutex<Vec<HubEvent>>,
    fail: AtomicBool,
}

impl ScheduleHost for FakeHost {
    fn load_rules(&self) -> Result<Vec<StoredSchedule>, String> {
        Ok(self
            .rules
            .lock()
            .unwrap()
            .iter()
            .map(|(id, rule)| StoredSchedule { id: id.clone(), rule: rule.clone() })
            .collect())
    }

    fn save_rule(&self, id: &str, rule: &Value) -> Result<(), String> {
        self.rules.lock().unwrap().insert(id.to_string(), rule.clone());
        Ok(())
    }

    fn switch(
        &self,
        device: &DeviceId,
        action: SwitchAction,
        outlet: Option<usize>,
    ) -> BoxFuture<'_, Result<SwitchResult, String>> {
        let device = device.clone();
        Box::pin(async move {
            if self.fail.load(Ordering::SeqCst) {
                return Err(format!("{device}: 127.0.0.2:9999: connection refused"));
            }
            self.switches.lock().unwrap().push((device, action, outlet));
            Ok(SwitchResult { on: Some(action == SwitchAction::On) })
        })
    }

    fn publish(&self, event: HubEvent) {
        self.events.lock().unwrap().push(event);
    }
}

impl FakeHost {
    fn put(&self, v: Value) {
        let r = validate_rule(&v).unwrap();
        self.rules.lock().unwrap().insert(r.id.clone(), v);
    }

    fn state(&self, id: &str) -> RuleState {
        let v = self.rules.lock().unwrap().get(id).cloned().unwrap();
        validate_rule(&v).unwrap().state.unwrap_or_default()
    }

    fn switch_count(&self) -> usize {
        self.switches.lock().unwrap().len()
    }

    fn errors(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                HubEvent::Error { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }
}

fn berlin(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
    civil::date(y, mo, d).at(h, mi, 0, 0).to_zoned(TimeZone::get(BERLIN).unwrap()).unwrap().timestamp()
}

fn location() -> Option<Location> {
    Some(Location { latitude: 52.52, longitude: 13.405, timezone: Some(BERLIN.into()) })
}

async fn start(host: &Arc<FakeHost>, clock: &ManualClock) -> SchedulerHandle {
    let opts = SchedulerOptions { clock: Arc::new(clock.clone()), ..SchedulerOptions::default() };
    let h = Scheduler::start_with(host.clone(), location(), opts);
    h.reload_and_wait().await;
    h
}

/// Moves the clock and waits until the scheduler has looked at the new time.
async fn jump(h: &SchedulerHandle, clock: &ManualClock, t: Timestamp) {
    clock.set(t);
    h.reload_and_wait().await;
}

/// Waits until `cond` holds (hang guard only).
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let give_up = tokio::time::Instant::now() + HANG_GUARD;
    while !cond() {
        assert!(tokio::time::Instant::now() < give_up, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn kettle() -> Value {
    json!({"id": "kettle", "name": "Kettle", "device": "kasa-1", "action": "on", "when": {"cron": "30 7 * * *"}})
}

#[tokio::test]
async fn runs_at_0730_local_across_the_spring_change_and_persists_its_state() {
    let host = Arc::new(FakeHost::default());
    host.put(kettle());
    let clock = ManualClock::new(berlin(2026, 3, 28, 7, 0));
    let h = start(&host, &clock).await;
    // A new rule starts from now: nothing ran, the state says so.
    assert_eq!(host.switch_count(), 0);
    assert_eq!(host.state("kettle").checked_ms, Some(berlin(2026, 3, 28, 7, 0).as_millisecond()));
    assert_eq!(h.status()[0].next_run_ms, Some(berlin(2026, 3, 28, 7, 30).as_millisecond()));

    jump(&h, &clock, berlin(2026, 3, 28, 7, 29)).await;
    assert_eq!(host.switch_count(), 0, "not due yet");
    jump(&h, &clock, berlin(2026, 3, 28, 7, 30)).await;
    until("the 07:30 CET run", || host.state("kettle").last_outcome == Some(Outcome::Ran)).await;
    assert_eq!(host.switches.lock().unwrap()[0], (DeviceId("kasa-1".into()), SwitchAction::On, None));
    let due = berlin(2026, 3, 28, 7, 30).as_millisecond();
    assert_eq!(host.state("kettle").last_run_ms, Some(due));
    // After the change to summer time the next run is 07:30 CEST, 23 hours later.
    let next = h.status()[0].next_run_ms.unwrap();
    assert_eq!(next, berlin(2026, 3, 29, 7, 30).as_millisecond());
    assert_eq!(next - due, 23 * 3_600_000);
    jump(&h, &clock, berlin(2026, 3, 29, 7, 30)).await;
    until("the 07:30 CEST run", || host.switch_count() == 2).await;
    until("its state", || host.state("kettle").last_run_ms == Some(next)).await;
    // Ran once each: looking again at the same instant runs nothing more.
    h.reload_and_wait().await;
    assert_eq!(host.switch_count(), 2);
    assert!(host.errors().is_empty(), "{:?}", host.errors());
}

#[tokio::test]
async fn a_run_missed_by_less_than_the_grace_period_runs_at_start_up() {
    let host = Arc::new(FakeHost::default());
    host.put(kettle());
    let clock = ManualClock::new(berlin(2026, 7, 1, 7, 0));
    let h = start(&host, &clock).await;
    drop(h); // the hub stops at 07:00 …
    clock.set(berlin(2026, 7, 1, 7, 35)); // … and is back at 07:35
    let h = start(&host, &clock).await;
    until("the late run", || host.state("kettle").last_outcome == Some(Outcome::Ran)).await;
    assert_eq!(host.switch_count(), 1);
    assert_eq!(host.state("kettle").last_run_ms, Some(berlin(2026, 7, 1, 7, 30).as_millisecond()));
    // A restart right after does not repeat it.
    drop(h);
    let h = start(&host, &clock).await;
    h.reload_and_wait().await;
    assert_eq!(host.switch_count(), 1);
}

#[tokio::test]
async fn an_older_miss_is_skipped_with_an_event_and_only_the_latest_counts() {
    let host = Arc::new(FakeHost::default());
    host.put(kettle());
    let clock = ManualClock::new(berlin(2026, 7, 1, 7, 0));
    drop(start(&host, &clock).await);
    // Down from 07:00 on 1 July to 07:45 on 4 July: four runs missed (1st–4th), the latest
    // 15 minutes ago: skipped, one event.
    clock.set(berlin(2026, 7, 4, 7, 45));
    let h = start(&host, &clock).await;
    let s = host.state("kettle");
    assert_eq!(s.last_outcome, Some(Outcome::Missed));
    assert_eq!(s.checked_ms, Some(berlin(2026, 7, 4, 7, 30).as_millisecond()));
    assert_eq!(s.last_run_ms, None);
    assert_eq!(host.switch_count(), 0);
    let errors = host.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("\"Kettle\" (kettle)") && errors[0].contains("2026-07-04T07:30:00+02:00"),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("missed") && errors[0].contains("15 min late"), "{}", errors[0]);
    // The next day runs normally.
    jump(&h, &clock, berlin(2026, 7, 5, 7, 30)).await;
    until("the next run", || host.state("kettle").last_outcome == Some(Outcome::Ran)).await;
    assert_eq!(host.switch_count(), 1);

    // Down for three days, back within the grace period of the latest miss: one run, not three.
    drop(h);
    clock.set(berlin(2026, 7, 8, 7, 39));
    let _h = start(&host, &clock).await;
    until("one catch-up run", || {
        host.state("kettle").last_run_ms == Some(berlin(2026, 7, 8, 7, 30).as_millisecond())
    })
    .await;
    until("its outcome", || host.state("kettle").last_outcome == Some(Outcome::Ran)).await;
    assert_eq!(host.switch_count(), 2);
}

#[tokio::test]
async fn new_changed_and_reenabled_rules_do_not_catch_up() {
    let host = Arc::new(FakeHost::default());
    let clock = ManualClock::new(berlin(2026, 7, 1, 7, 35));
    let h = start(&host, &clock).await;
    // Created at 07:35 for 07:30: nothing runs today.
    host.put(kettle());
    h.reload_and_wait().await;
    assert_eq!(host.switch_count(), 0);
    assert_eq!(h.status()[0].next_run_ms, Some(berlin(2026, 7, 2, 7, 30).as_millisecond()));
    // Disabled over the next due time, re-enabled 5 minutes later (the client sends back the
    // old state with it): no catch-up.
    let mut off = kettle();
    off["enabled"] = json!(false);
    off["state"] = serde_json::to_value(host.state("kettle")).unwrap();
    host.put(off.clone());
    h.reload_and_wait().await; // what the API does after a change
    jump(&h, &clock, berlin(2026, 7, 2, 7, 30)).await;
    assert_eq!(host.switch_count(), 0);
    assert_eq!(h.status()[0].next_run_ms, None);
    clock.set(berlin(2026, 7, 2, 7, 35));
    off["enabled"] = json!(true);
    host.put(off);
    h.reload_and_wait().await;
    assert_eq!(host.switch_count(), 0);
    // A changed rule starts from the scheduler's previous look at the rules (here 07:30,
    // when the rule was still disabled; normally at most 15 s before the change is seen).
    assert_eq!(host.state("kettle").checked_ms, Some(berlin(2026, 7, 2, 7, 30).as_millisecond()));
    assert_eq!(h.status()[0].next_run_ms, Some(berlin(2026, 7, 3, 7, 30).as_millisecond()));
    // Deleted: never runs.
    host.rules.lock().unwrap().clear();
    h.reload_and_wait().await;
    jump(&h, &clock, berlin(2026, 7, 3, 7, 30)).await;
    assert_eq!(host.switch_count(), 0);
    assert!(h.status().is_empty());
}

#[tokio::test]
async fn failures_and_unrunnable_rules_become_error_events() {
    let host = Arc::new(FakeHost::default());
    host.put(json!({"id": "strip", "device": "kasa-2", "outlet": 3, "action": "toggle",
        "when": {"cron": "0 22 * * *"}}));
    let clock = ManualClock::new(berlin(2026, 7, 1, 21, 0));
    let h = start(&host, &clock).await;
    host.fail.store(true, Ordering::SeqCst);
    jump(&h, &clock, berlin(2026, 7, 1, 22, 0)).await;
    until("the failure", || host.state("strip").last_outcome == Some(Outcome::Failed)).await;
    let errors = host.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("schedule \"strip\": switching over (toggle) failed")
            && errors[0].contains("refused"),
        "{}",
        errors[0]
    );
    let e = host.events.lock().unwrap()[0].clone();
    assert_eq!(e.device(), Some(&DeviceId("kasa-2".into())));
    // Not retried.
    h.reload_and_wait().await;
    assert_eq!(host.state("strip").last_outcome, Some(Outcome::Failed));

    // A sunset rule on a hub without a location cannot run: one event, and the status says why.
    let opts = SchedulerOptions { clock: Arc::new(clock.clone()), ..SchedulerOptions::default() };
    let host2 = Arc::new(FakeHost::default());
    host2.put(json!({"id": "dusk", "device": "kasa-3", "action": "on", "when": {"sunset": {}}}));
    let h2 = Scheduler::start_with(host2.clone(), None, opts);
    h2.reload_and_wait().await;
    h2.reload_and_wait().await;
    let errors = host2.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("[location]"), "{}", errors[0]);
    assert!(h2.status()[0].problem.as_deref().unwrap_or("").contains("[location]"));
    // A broken stored rule is reported, not run.
    host2.rules.lock().unwrap().insert("bad".into(), json!({"id": "bad", "when": {"cron": "x"}}));
    h2.reload_and_wait().await;
    assert!(
        host2.errors().iter().any(|e| e.contains("schedule bad: the stored rule is invalid")),
        "{:?}",
        host2.errors()
    );
}

#[tokio::test]
async fn sunrise_rules_run_at_sunrise_plus_offset() {
    let host = Arc::new(FakeHost::default());
    host.put(
        json!({"id": "dawn", "device": "kasa-1", "action": "off", "when": {"sunrise": {"offset_min": 30}}}),
    );
    let clock = ManualClock::new(berlin(2024, 6, 21, 0, 0));
    let h = start(&host, &clock).await;
    // Sunrise 04:43 CEST + 30 min.
    let next = Timestamp::from_millisecond(h.status()[0].next_run_ms.unwrap()).unwrap();
    let want = berlin(2024, 6, 21, 5, 13);
    assert!(next.duration_since(want).abs() <= SignedDuration::from_mins(2), "{next}");
    jump(&h, &clock, next).await;
    until("the run", || host.state("dawn").last_outcome == Some(Outcome::Ran)).await;
    assert_eq!(host.switches.lock().unwrap()[0].1, SwitchAction::Off);
    assert_eq!(clock.now(), next);
}

#[test]
fn validate_rule_for_fills_in_and_checks_the_id() {
    let body = json!({"device": "kasa-1", "action": "on", "when": {"cron": "0 8 * * *"}});
    assert_eq!(validate_rule_for("abc", &body).unwrap().id, "abc");
    let mut with_id = body.clone();
    with_id["id"] = json!("abc");
    assert!(validate_rule_for("abc", &with_id).is_ok());
    let e = validate_rule_for("xyz", &with_id).unwrap_err();
    assert!(e.contains("does not match the schedule's id \"xyz\""), "{e}");
    assert!(validate_rule(&body).unwrap_err().contains("id is missing"));
}

#[tokio::test]
async fn a_rule_saved_again_without_its_state_gets_it_back() {
    let host = Arc::new(FakeHost::default());
    host.put(kettle());
    let clock = ManualClock::new(berlin(2026, 7, 1, 7, 0));
    let h = start(&host, &clock).await;
    jump(&h, &clock, berlin(2026, 7, 1, 7, 30)).await;
    until("the run", || host.state("kettle").last_outcome == Some(Outcome::Ran)).await;
    // A client saves the same rule without the state it read.
    host.put(kettle());
    assert_eq!(host.state("kettle"), RuleState::default());
    h.reload_and_wait().await;
    let s = host.state("kettle");
    assert_eq!(s.last_run_ms, Some(berlin(2026, 7, 1, 7, 30).as_millisecond()));
    assert_eq!(s.last_outcome, Some(Outcome::Ran));
    assert_eq!(host.switch_count(), 1);
}
