//! Local schedules: cron and sunrise/sunset rules run by the hub, an extension that starts
//! and stops on its own over the hub's device registry.
//!
//! # Rules
//!
//! A rule is one JSON object, stored by the store under its `id`
//! ([`Store::put_schedule`](crate::store::Store::put_schedule)), created and edited through
//! the API, checked by [`validate_rule`]:
//!
//! ```json
//! { "id": "kettle-morning", "name": "Kettle on, weekdays", "enabled": true,
//!   "device": "kasa-8006ABCDEF", "outlet": null, "action": "on",
//!   "when": {"cron": "30 7 * * 1-5"}, "timezone": "Europe/Berlin" }
//! { "id": "porch", "device": "hf-ACCF23000001", "action": "off",
//!   "when": {"sunrise": {"offset_min": -15}}, "days": ["sat", "sun"] }
//! ```
//!
//! | field | |
//! |---|---|
//! | `id` | 1–64 of `A-Z a-z 0-9 . _ -`; the store key ([`validate_rule_for`] fills it in) |
//! | `name` | optional display name (default `""`) |
//! | `enabled` | optional, default `true` |
//! | `device` | required device id (`kasa-…`, `hf-…`) |
//! | `outlet` | `null` (default: the whole device) or a strip outlet index 0–63 |
//! | `action` | `"on"`, `"off"` or `"toggle"` |
//! | `when` | `{"cron": "M H DoM Mon DoW"}`, `{"sunrise": {"offset_min": N}}` or `{"sunset": …}` |
//! | `days` | optional, sunrise/sunset rules only: weekdays `["mon", …, "sun"]` (default: every day) |
//! | `timezone` | optional IANA zone of its times (default: `[location] timezone`, else the host's) |
//! | `state` | written by the scheduler (see *Missed runs*); clients omit it or send it back |
//!
//! Cron expressions have 5 fields (`minute hour day-of-month month day-of-week`, names like
//! `MON` and `JAN`, `@daily`-style nicknames, croner's `L`, `W` and `#`; when both day
//! fields are restricted a day matching either runs, as in Vixie cron). Sun offsets are
//! whole minutes from −720 to 720 (default 0).
//!
//! Sunrise and sunset are computed for `[location] latitude`/`longitude` (NOAA equations,
//! `plugctl-sun`, about a minute's accuracy); a sun rule on a hub without a location does not
//! run and raises an `error` event.
//!
//! # Time zones and DST
//!
//! Cron times are wall-clock times in the rule's zone: `30 7 * * *` runs at 07:30 local time
//! on both sides of a DST change (23 or 25 hours apart across it).
//! - A time skipped by a spring-forward gap (02:30 on the night clocks go 02:00 → 03:00) runs
//!   at the first instant after the gap (03:00 local, the moment of the change); several
//!   skipped times (`*/15 2 * * *`) run once there.
//! - A time repeated by a fall-back (02:30 on the night clocks go 03:00 → 02:00) runs once,
//!   at its first occurrence (summer time); the repeated hour does not run again.
//!
//! Sunrise/sunset rules are instants and need no such rules.
//!
//! # Missed runs
//!
//! The policy (for the README):
//!
//! > **Missed runs.** When the hub starts again after being down (or its clock jumps ahead,
//! > e.g. after a suspend), each enabled rule looks at the runs it missed. Only the latest
//! > missed run of a rule counts: if it was due less than 10 minutes ago it runs at once;
//! > if it is older it is skipped, and an `error` event on the rule's device says which run
//! > was skipped. Earlier misses are ignored. Rules created, changed or re-enabled do not
//! > catch up on runs due before the change. A run that fails (the plug is offline) is not
//! > retried; an `error` event says why.
//!
//! To apply it across restarts, the scheduler keeps in each rule's `state` the instant up to
//! which every run has been handled (`checked_ms`), when the last executed run was due
//! (`last_run_ms`) and what happened to the run at `checked_ms` (`last_outcome`: `running`,
//! `ran`, `failed`, `missed`). The state is saved before the switch is sent, so a crash in
//! the middle of a run never repeats it (a `toggle` must not run twice). Before writing the
//! state the scheduler re-reads the stored rule and leaves it alone if it was changed
//! meanwhile; a client that saves an unchanged rule without its state gets it put back.
//!
//! "Changed" is precise to the scheduler's previous look at the rules: a rule created,
//! changed or re-enabled is handled from that moment, which is at most
//! [`SchedulerOptions::reload_every`] (15 s) before the change was seen, or right before it
//! when the API calls [`SchedulerControl::reload`] after the change.
//!
//! # Engine
//!
//! [`Scheduler::start`] loads the rules from the store, sleeps until the next due time
//! (recomputed after every change), switches through [`Hub::switch`](crate::Hub::switch) (so
//! the state reported is read back from the device), and publishes
//! [`HubEvent::Error`](crate::events::HubEvent::Error) when a run fails, a missed run is
//! skipped or a rule cannot run (a successful run shows as the hub's `state_changed` event
//! and in the rule's `state`). [`SchedulerHandle::status`] lists every rule's next run. It
//! re-reads the rules when told ([`SchedulerControl::reload`], which the API calls after a
//! change) and every 15 seconds in any case. The clock is injectable ([`Clock`]:
//! [`SystemClock`], [`ManualClock`]) and the hub is reached through the [`ScheduleHost`]
//! trait, so tests jump over DST changes and downtime without waiting.
//!
//! The `[location]` is read when the scheduler starts; restart it after a configuration
//! reload that changes the location.

mod clock;
mod engine;
mod next;
mod rule;

pub use clock::{Clock, ManualClock, Sleep, SystemClock};
pub use engine::{
    RuleStatus, ScheduleHost, Scheduler, SchedulerControl, SchedulerHandle, SchedulerOptions, SwitchResult,
};
pub use next::{default_time_zone, parse_cron, CompiledRule};
pub use rule::{validate_rule, validate_rule_for, Day, Outcome, Rule, RuleState, SunOffset, When};
