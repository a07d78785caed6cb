//! The engine: one task that keeps the rules, sleeps until the next due time, runs due rules
//! through the hub and applies the missed-run policy.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::Value;
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};
use tracing::{debug, info, warn};

use super::{
    clock::{Clock, SystemClock},
    next::CompiledRule,
    rule::{validate_rule, Outcome, Rule, RuleState},
};
use crate::{
    config::Location, events::HubEvent, hub::SwitchAction, model::DeviceId, store::StoredSchedule, Hub,
};

/// What the scheduler needs from the hub. [`Hub`] implements it; tests may use a fake.
pub trait ScheduleHost: Send + Sync + 'static {
    /// Every stored rule. Blocking (called on a blocking thread).
    fn load_rules(&self) -> Result<Vec<StoredSchedule>, String>;

    /// Creates or replaces a stored rule. Blocking (called on a blocking thread).
    fn save_rule(&self, id: &str, rule: &Value) -> Result<(), String>;

    /// Switches a device (or one outlet) and answers the state read back from the device:
    /// the outlet's for an outlet, else the device's (`None` if it was not reported).
    fn switch(
        &self,
        device: &DeviceId,
        action: SwitchAction,
        outlet: Option<usize>,
    ) -> BoxFuture<'_, Result<SwitchResult, String>>;

    /// Publishes an event on the hub's bus.
    fn publish(&self, event: HubEvent);
}

/// What a switch answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwitchResult {
    /// The relay state read back.
    pub on: Option<bool>,
}

impl ScheduleHost for Hub {
    fn load_rules(&self) -> Result<Vec<StoredSchedule>, String> {
        self.store().schedules().map_err(|e| e.to_string())
    }

    fn save_rule(&self, id: &str, rule: &Value) -> Result<(), String> {
        self.store().put_schedule(id, rule).map_err(|e| e.to_string())
    }

    fn switch(
        &self,
        device: &DeviceId,
        action: SwitchAction,
        outlet: Option<usize>,
    ) -> BoxFuture<'_, Result<SwitchResult, String>> {
        let device = device.clone();
        Box::pin(async move {
            let view = Hub::switch(self, &device, action, outlet).await.map_err(|e| e.to_string())?;
            let on = view.reading.map(|r| match outlet {
                Some(i) => r.outlets_on.get(i).copied().unwrap_or(r.on),
                None => r.on,
            });
            Ok(SwitchResult { on })
        })
    }

    fn publish(&self, event: HubEvent) {
        self.events().publish(event);
    }
}

/// How the scheduler behaves.
#[derive(Clone)]
pub struct SchedulerOptions {
    /// A missed run due less than this long ago still runs (default 10 minutes).
    pub grace: Duration,
    /// The rules are re-read from the store at least this often (default 15 s), in case a
    /// change was not announced with [`SchedulerHandle::reload`].
    pub reload_every: Duration,
    /// The clock (default: the host's).
    pub clock: Arc<dyn Clock>,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(600),
            reload_every: Duration::from_secs(15),
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for SchedulerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerOptions")
            .field("grace", &self.grace)
            .field("reload_every", &self.reload_every)
            .finish_non_exhaustive()
    }
}

/// One rule as the scheduler sees it (for the API and the dashboard).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleStatus {
    /// Rule id.
    pub id: String,
    /// Whether it is enabled.
    pub enabled: bool,
    /// When it is due next (Unix ms), if it is enabled and can run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run_ms: Option<i64>,
    /// What the scheduler remembers.
    pub state: RuleState,
    /// Why it cannot run (no location for a sun rule, an unknown zone, an invalid stored rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The scheduler extension.
#[derive(Debug)]
pub struct Scheduler;

impl Scheduler {
    /// Starts the scheduler over `hub` with the hub's `[location]` (for sunrise/sunset rules
    /// and the default zone). Must be called inside a tokio runtime. Stops when the handle is
    /// dropped.
    pub fn start(hub: Hub, location: Option<Location>) -> SchedulerHandle {
        Self::start_with(Arc::new(hub), location, SchedulerOptions::default())
    }

    /// Starts the scheduler over any [`ScheduleHost`] with explicit options (tests inject a
    /// [`ManualClock`](super::ManualClock) here).
    pub fn start_with(
        host: Arc<dyn ScheduleHost>,
        location: Option<Location>,
        opts: SchedulerOptions,
    ) -> SchedulerHandle {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(Mutex::new(Vec::new()));
        let (results_tx, results_rx) = mpsc::unbounded_channel();
        let engine = Engine {
            host,
            location,
            clock: opts.clock.clone(),
            grace: SignedDuration::try_from(opts.grace).unwrap_or(SignedDuration::from_mins(10)),
            entries: BTreeMap::new(),
            last_load: None,
            problems: HashMap::new(),
            status: status.clone(),
            results_tx,
        };
        let task = tokio::spawn(engine.run(rx, results_rx, opts.reload_every));
        SchedulerHandle { control: SchedulerControl { tx, status }, task }
    }
}

/// The running scheduler. Dropping it stops the scheduler (a run in progress finishes).
#[derive(Debug)]
pub struct SchedulerHandle {
    control: SchedulerControl,
    task: JoinHandle<()>,
}

impl SchedulerHandle {
    /// Re-reads the rules now (call after creating, changing or deleting one).
    pub fn reload(&self) {
        self.control.reload();
    }

    /// Re-reads the rules and waits until they are in force.
    pub async fn reload_and_wait(&self) {
        self.control.reload_and_wait().await;
    }

    /// Every rule's next run and state.
    pub fn status(&self) -> Vec<RuleStatus> {
        self.control.status()
    }

    /// A cheap, cloneable handle for reloading and status (e.g. for the API's state).
    pub fn control(&self) -> SchedulerControl {
        self.control.clone()
    }

    /// Stops the scheduler and waits for its task to end.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for SchedulerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reload and status of a running scheduler, cloneable. Does nothing once it has stopped.
#[derive(Debug, Clone)]
pub struct SchedulerControl {
    tx: mpsc::UnboundedSender<Control>,
    status: Arc<Mutex<Vec<RuleStatus>>>,
}

impl SchedulerControl {
    /// Re-reads the rules now.
    pub fn reload(&self) {
        let _ = self.tx.send(Control::Reload(None));
    }

    /// Re-reads the rules and waits until they are in force.
    pub async fn reload_and_wait(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Control::Reload(Some(ack))).is_ok() {
            let _ = done.await;
        }
    }

    /// Every rule's next run and state, by id.
    pub fn status(&self) -> Vec<RuleStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[derive(Debug)]
enum Control {
    Reload(Option<oneshot::Sender<()>>),
}

/// A finished run.
struct RunResult {
    id: String,
    due_ms: i64,
    result: Result<SwitchResult, String>,
}

struct Entry {
    /// The definition (no state), with `id` = the store key.
    def: Rule,
    compiled: Result<CompiledRule, String>,
    state: RuleState,
}

struct Engine {
    host: Arc<dyn ScheduleHost>,
    location: Option<Location>,
    clock: Arc<dyn Clock>,
    grace: SignedDuration,
    entries: BTreeMap<String, Entry>,
    /// When the rules were last read (by the scheduler's clock).
    last_load: Option<Timestamp>,
    /// Problems already reported, by rule id (so each is published once).
    problems: HashMap<String, String>,
    status: Arc<Mutex<Vec<RuleStatus>>>,
    results_tx: mpsc::UnboundedSender<RunResult>,
}

const STORE_KEY: &str = "\u{0}store";

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Engine {
    async fn run(
        mut self,
        mut control: mpsc::UnboundedReceiver<Control>,
        mut results: mpsc::UnboundedReceiver<RunResult>,
        reload_every: Duration,
    ) {
        let mut first = true;
        let mut acks: Vec<oneshot::Sender<()>> = Vec::new();
        let mut next_load = tokio::time::Instant::now();
        loop {
            if first || !acks.is_empty() || tokio::time::Instant::now() >= next_load {
                if self.load(first).await {
                    first = false;
                }
                next_load = tokio::time::Instant::now() + reload_every;
            }
            self.tick().await;
            self.publish_status();
            for ack in acks.drain(..) {
                let _ = ack.send(());
            }
            let deadline = self.next_deadline();
            let clock = self.clock.clone();
            let sleep = async move {
                match deadline {
                    Some(d) => clock.sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => {}
                _ = tokio::time::sleep_until(next_load) => {}
                msg = control.recv() => match msg {
                    Some(Control::Reload(ack)) => {
                        // Collect every queued reload into this one.
                        acks.extend(ack);
                        while let Ok(Control::Reload(more)) = control.try_recv() {
                            acks.extend(more);
                        }
                        next_load = tokio::time::Instant::now();
                    }
                    None => return,
                },
                Some(r) = results.recv() => self.finish(r).await,
            }
        }
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Reads the rules. Rules new to this process take their stored state at start-up (so the
    /// missed-run policy applies); rules created or changed later start from the previous
    /// read, so they never catch up on runs due before they were saved.
    /// False if the store could not be read (the start-up read is then retried as such).
    async fn load(&mut self, first: bool) -> bool {
        let now = self.now();
        let host = self.host.clone();
        let rows = match tokio::task::spawn_blocking(move || host.load_rules()).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                self.problem(STORE_KEY, None, format!("schedules: cannot read the rules: {e}"));
                return false;
            }
            Err(e) => {
                self.problem(STORE_KEY, None, format!("schedules: the rule reader failed: {e}"));
                return false;
            }
        };
        self.problems.remove(STORE_KEY);
        let since = if first { now } else { self.last_load.unwrap_or(now) };
        self.last_load = Some(now);
        let mut seen = Vec::with_capacity(rows.len());
        let mut to_save = Vec::new();
        for row in rows {
            seen.push(row.id.clone());
            let mut rule = match validate_rule(&row.rule) {
                Ok(r) => r,
                Err(e) => {
                    self.entries.remove(&row.id);
                    self.problem(
                        &row.id,
                        None,
                        format!("schedule {}: the stored rule is invalid: {e}", row.id),
                    );
                    continue;
                }
            };
            rule.id = row.id.clone();
            let stored = rule.state.take().unwrap_or_default();
            let def = rule;
            let watermark =
                |s: &RuleState| Some(s.checked_ms.unwrap_or(i64::MIN).max(since.as_millisecond()));
            let state = match self.entries.get(&row.id) {
                Some(e) if e.def == def => {
                    // Unchanged, but a client may have stored it without (or with an old)
                    // state: put ours back so a restart sees it.
                    if e.state != stored {
                        to_save.push(row.id.clone());
                    }
                    continue;
                }
                Some(e) => {
                    debug!(schedule = %row.id, "rule changed");
                    RuleState { checked_ms: watermark(&e.state), ..e.state }
                }
                None if first && stored.checked_ms.is_some() => stored,
                None => RuleState { checked_ms: watermark(&stored), ..stored },
            };
            if state != stored {
                to_save.push(row.id.clone());
            }
            let compiled = CompiledRule::new(&def, self.location.as_ref());
            match &compiled {
                Err(e) if def.enabled => self.problem(
                    &row.id,
                    Some(def.device.clone()),
                    format!("schedule {}: {e}", describe(&def)),
                ),
                _ => {
                    self.problems.remove(&row.id);
                }
            }
            self.entries.insert(row.id.clone(), Entry { def, compiled, state });
        }
        self.entries.retain(|id, _| seen.contains(id));
        self.problems.retain(|id, _| id == STORE_KEY || seen.contains(id));
        for id in to_save {
            self.persist(&id).await;
        }
        true
    }

    /// Runs or skips every rule that is due.
    async fn tick(&mut self) {
        let now = self.now();
        let mut due = Vec::new();
        for (id, e) in &self.entries {
            let Ok(c) = &e.compiled else { continue };
            if !e.def.enabled {
                continue;
            }
            let from = ts(e.state.checked_ms.unwrap_or(now.as_millisecond()));
            if let Some(latest) = c.latest_between(from, now) {
                due.push((id.clone(), latest));
            }
        }
        for (id, latest) in due {
            let late = now.duration_since(latest);
            if late <= self.grace {
                self.start_run(&id, latest).await;
            } else {
                self.skip_missed(&id, latest, late).await;
            }
        }
    }

    async fn start_run(&mut self, id: &str, due: Timestamp) {
        let Some(e) = self.entries.get_mut(id) else { return };
        let due_ms = due.as_millisecond();
        e.state = RuleState {
            checked_ms: Some(due_ms),
            last_run_ms: Some(due_ms),
            last_outcome: Some(Outcome::Running),
        };
        let def = e.def.clone();
        // Saved before switching: a crash mid-run never repeats the run.
        self.persist(id).await;
        info!(schedule = %id, device = %def.device, action = ?def.action, due = %due, "schedule runs");
        let host = self.host.clone();
        let tx = self.results_tx.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            let result = host.switch(&def.device, def.action, def.outlet).await;
            let _ = tx.send(RunResult { id, due_ms, result });
        });
    }

    async fn finish(&mut self, r: RunResult) {
        let now_ms = self.now().as_millisecond();
        let Some(e) = self.entries.get_mut(&r.id) else { return };
        let def = e.def.clone();
        let ok = r.result.is_ok();
        if e.state.last_run_ms == Some(r.due_ms) {
            e.state.last_outcome = Some(if ok { Outcome::Ran } else { Outcome::Failed });
        }
        match r.result {
            Ok(res) => info!(schedule = %r.id, device = %def.device, on = ?res.on, "schedule ran"),
            Err(err) => {
                warn!(schedule = %r.id, device = %def.device, error = %err, "schedule run failed");
                self.host.publish(HubEvent::Error {
                    id: Some(def.device.clone()),
                    message: format!(
                        "schedule {}: switching {} failed: {err}",
                        describe(&def),
                        action_word(def.action)
                    ),
                    at_ms: now_ms,
                });
            }
        }
        self.persist(&r.id).await;
        self.publish_status();
    }

    async fn skip_missed(&mut self, id: &str, due: Timestamp, late: SignedDuration) {
        let now_ms = self.now().as_millisecond();
        let Some(e) = self.entries.get_mut(id) else { return };
        e.state.checked_ms = Some(due.as_millisecond());
        e.state.last_outcome = Some(Outcome::Missed);
        let def = e.def.clone();
        let when =
            e.compiled.as_ref().map(|c| due.to_zoned(c.time_zone().clone()).to_string()).unwrap_or_default();
        let mins = late.as_secs() / 60;
        let grace = self.grace.as_secs() / 60;
        warn!(schedule = %id, due = %when, "missed run skipped");
        self.host.publish(HubEvent::Error {
            id: Some(def.device.clone()),
            message: format!(
                "schedule {}: the run due {when} was missed while the hub was not running and is skipped \
                 ({mins} min late; missed runs within {grace} min run late)",
                describe(&def)
            ),
            at_ms: now_ms,
        });
        self.persist(id).await;
    }

    /// Saves a rule's state into its stored JSON, unless the stored rule was changed or
    /// deleted meanwhile (the next read picks that up).
    async fn persist(&mut self, id: &str) {
        let Some(e) = self.entries.get(id) else { return };
        let def = e.def.clone();
        let state = e.state;
        let host = self.host.clone();
        let key = id.to_string();
        let res = tokio::task::spawn_blocking(move || -> Result<bool, String> {
            let rows = host.load_rules()?;
            let Some(row) = rows.into_iter().find(|r| r.id == key) else { return Ok(false) };
            let mut current = validate_rule(&row.rule)?;
            current.id = key.clone();
            current.state = None;
            if current != def {
                return Ok(false);
            }
            let mut rule = def;
            rule.state = Some(state);
            host.save_rule(&key, &rule.to_json())?;
            Ok(true)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        match res {
            Ok(saved) => debug!(schedule = %id, saved, "schedule state"),
            Err(err) => {
                let device = self.entries.get(id).map(|e| e.def.device.clone());
                self.problem(id, device, format!("schedule {id}: cannot save its state: {err}"));
            }
        }
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        let now = self.now();
        self.entries
            .values()
            .filter(|e| e.def.enabled)
            .filter_map(|e| {
                let c = e.compiled.as_ref().ok()?;
                c.next_after(ts(e.state.checked_ms.unwrap_or(now.as_millisecond())).max(now))
            })
            .min()
    }

    fn publish_status(&self) {
        let now = self.now();
        let list = self
            .entries
            .iter()
            .map(|(id, e)| RuleStatus {
                id: id.clone(),
                enabled: e.def.enabled,
                next_run_ms: match &e.compiled {
                    Ok(c) if e.def.enabled => c
                        .next_after(ts(e.state.checked_ms.unwrap_or(now.as_millisecond())).max(now))
                        .map(|t| t.as_millisecond()),
                    _ => None,
                },
                state: e.state,
                problem: e.compiled.as_ref().err().cloned().or_else(|| self.problems.get(id).cloned()),
            })
            .collect();
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = list;
    }

    /// Publishes an error once per rule and message.
    fn problem(&mut self, key: &str, device: Option<DeviceId>, message: String) {
        if self.problems.get(key) == Some(&message) {
            return;
        }
        warn!("{message}");
        self.problems.insert(key.to_string(), message.clone());
        self.host.publish(HubEvent::Error { id: device, message, at_ms: self.now().as_millisecond() });
    }
}

fn describe(r: &Rule) -> String {
    if r.name.is_empty() {
        format!("\"{}\"", r.id)
    } else {
        format!("\"{}\" ({})", r.name, r.id)
    }
}

fn action_word(a: SwitchAction) -> &'static str {
    match a {
        SwitchAction::On => "on",
        SwitchAction::Off => "off",
        SwitchAction::Toggle => "over (toggle)",
    }
}
