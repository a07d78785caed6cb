//! The web dashboard in a real browser: Debian's headless Chromium, driven over the Chrome
//! DevTools Protocol, against the real hub (emulated Kasa and Hi-Flying plugs on loopback, the
//! hub polling them, the HTTP server on 127.0.0.1:0).
//!
//! It opens the device list, clicks a toggle and checks that the emulated plug really switched
//! and that the page shows it; switches an outlet behind the page's back and sees the page
//! follow over server-sent events; opens a device page and checks the SVG charts (axes with
//! units, data drawn); adds a schedule through the form; signs in with a token; and saves
//! screenshots (desktop 1280×800, phone 390×844) to `target/test-artifacts/dashboard-*.png`.
//!
//! Chromium comes from the Debian package (`./scripts/test.sh` installs it); without it these
//! tests fail, saying so.

#[path = "support/cdp.rs"]
mod cdp;

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use cdp::{Browser, Page};
use plugctl_emulator::{hf, kasa};
use plugctl_hub::{
    api::{self, ApiOptions, Security},
    config::{DeviceEntry, HubConfig, Retention},
    events::HubEvent,
    model::{now_ms, DeviceId, Reading},
    store::Store,
    Hub, StartOptions,
};
use serde_json::{json, Value};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// A hang guard (never an assertion on speed).
const PATIENCE: Duration = Duration::from_secs(60);

/// One browser at a time: the machine may have two cores.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where screenshots go: `target/test-artifacts/` of the workspace (or of `CARGO_TARGET_DIR`).
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/test-artifacts");
    dir
}

/// Emulated plugs, a hub polling them every second, and its HTTP server.
struct Stack {
    hub: Hub,
    addr: SocketAddr,
    kasa: Option<kasa::Fleet>,
    hf: Option<hf::Fleet>,
    scheduler: Option<plugctl_hub::scheduler::SchedulerHandle>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    dir: tempfile::TempDir,
}

/// The Kasa plugs of the stack: profile, display name, room.
const KASA: &[(&str, &str, &str)] = &[
    ("hs110-hw4", "Fridge", "Kitchen"),
    ("hs300", "Desk strip", "Office"),
    ("kp115", "Washing machine", "Utility"),
];

fn kasa_entry(addr: SocketAddr, name: &str, room: &str) -> DeviceEntry {
    DeviceEntry {
        host: addr.to_string(),
        family: Some(plugctl_client::Family::Kasa),
        udp_port: None,
        name: Some(name.into()),
        room: Some(room.into()),
        tags: vec![],
        interval: Some(1.0),
        cloud_free: false,
    }
}

impl Stack {
    /// `base` is the first loopback address of the emulated plugs (distinct per test).
    async fn start(base: Ipv4Addr, security: Security, with_hf: bool) -> Stack {
        let dir = tempfile::tempdir().expect("temp dir");
        let profiles = KASA.iter().map(|(p, _, _)| kasa::builtin(p).expect("profile")).collect();
        let k = kasa::fleet::start(kasa::FleetConfig {
            count: KASA.len(),
            base,
            profiles,
            seed: 11,
            ..kasa::FleetConfig::default()
        })
        .await
        .expect("kasa fleet");
        let mut devices: Vec<DeviceEntry> =
            k.devices().iter().zip(KASA).map(|(d, (_, name, room))| kasa_entry(d.addr, name, room)).collect();
        let h = if with_hf {
            let [a, b, c, _] = base.octets();
            let h = hf::fleet::start(hf::FleetConfig {
                count: 1,
                base: Ipv4Addr::new(a, b, c, 20),
                other_base: Some(Ipv4Addr::new(a, b, c, 30)),
                ports: hf::Ports::ephemeral(),
                seed: 11,
                ..hf::FleetConfig::default()
            })
            .await
            .expect("hf fleet");
            for p in h.plugs() {
                devices.push(DeviceEntry {
                    host: format!("{}:{}", p.ip, p.ports.control),
                    family: Some(plugctl_client::Family::Hf),
                    udp_port: Some(p.ports.udp),
                    name: Some("Reading lamp".into()),
                    room: Some("Living room".into()),
                    tags: vec![],
                    interval: Some(1.0),
                    cloud_free: false,
                });
            }
            Some(h)
        } else {
            None
        };

        let db = dir.path().join("hub.db");
        seed_history(&db, &k).await;

        let mut config = HubConfig::default();
        config.hub.poll_interval = 1.0;
        config.discovery.enabled = false;
        config.discovery.target = "127.255.255.255".into();
        config.devices = devices;
        let hub =
            Hub::start(config, StartOptions { config_path: None, db_path: db }).await.expect("hub starts");
        let scheduler = plugctl_hub::scheduler::Scheduler::start(hub.clone(), None);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let opts = ApiOptions { scheduler: Some(scheduler.control()) };
        let server = tokio::spawn(api::serve_with(listener, hub.clone(), security, opts, async {
            let _ = rx.await;
        }));
        Stack {
            hub,
            addr,
            kasa: Some(k),
            hf: h,
            scheduler: Some(scheduler),
            stop: Some(tx),
            server: Some(server),
            dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Waits until every device is online with a reading; returns their ids in `KASA`
    /// order (then the Hi-Flying plug).
    async fn wait_online(&self) -> Vec<DeviceId> {
        let want = KASA.len() + usize::from(self.hf.is_some());
        let fleet = self.kasa.as_ref().expect("fleet");
        let r = tokio::time::timeout(PATIENCE, async {
            loop {
                let d = self.hub.devices();
                if d.len() == want && d.iter().all(|v| v.availability.online && v.reading.is_some()) {
                    let mut ids: Vec<DeviceId> =
                        fleet.devices().iter().map(|f| DeviceId::kasa(&f.device_id)).collect();
                    ids.extend(
                        d.iter()
                            .filter(|v| v.info.family == plugctl_client::Family::Hf)
                            .map(|v| v.info.id.clone()),
                    );
                    return ids;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        r.unwrap_or_else(|_| panic!("devices never came online: {:#?}", self.hub.devices()))
    }

    /// The emulated Kasa device's relays, as the emulator has them.
    fn relays(&self, index: usize) -> Vec<bool> {
        let dev = self.kasa.as_ref().and_then(|k| k.device(index)).expect("emulated device");
        let states = dev.lock().unwrap_or_else(|e| e.into_inner()).relay_states();
        states
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let r = tokio::time::timeout(PATIENCE, s).await.expect("server stops");
            r.expect("server task").expect("server result");
        }
        if let Some(s) = self.scheduler.take() {
            s.stop().await;
        }
        self.hub.shutdown().await;
        if let Some(k) = self.kasa.take() {
            k.shutdown().await;
        }
        if let Some(h) = self.hf.take() {
            h.shutdown().await;
        }
        drop(self.dir);
    }
}

/// Thirty days of plausible samples for the metered Kasa plugs, written through the store
/// before the hub starts (as if the hub had been running for a month), so the charts have
/// something to draw. Each series ends at the emulator's current energy counter, so the
/// hub's first real reading continues it.
async fn seed_history(db: &Path, fleet: &kasa::Fleet) {
    let store = Store::open(db, Retention::default()).expect("open store");
    let now = now_ms();
    let start = now - 30 * 86_400_000;
    for (i, d) in fleet.devices().iter().enumerate() {
        let Some(dev) = fleet.device(i) else { continue };
        let counter_now = {
            let mut s = dev.lock().unwrap_or_else(|e| e.into_inner());
            let outlets = s.relay_states().len();
            let mut total = None;
            for o in 0..outlets {
                if let Some(r) = s.reading(o, Instant::now()) {
                    *total.get_or_insert(0.0) += r.total_kwh;
                }
            }
            total
        };
        let Some(counter_now) = counter_now else { continue };
        // Sample times: every 30 min for the older days, every 2 min for the last two.
        let mut times = Vec::new();
        let mut t = start;
        while t < now - 60_000 {
            times.push(t);
            t += if now - t > 2 * 86_400_000 { 1_800_000 } else { 120_000 };
        }
        let power = |t: i64| -> f64 {
            let minute = t / 60_000;
            let hour = (minute / 60) % 24;
            let day = minute / 1440;
            let wobble = ((minute * 7919) % 13) as f64 / 13.0;
            match i {
                // A fridge: the compressor runs 12 minutes in 40.
                0 => {
                    if minute % 40 < 12 {
                        82.0 + 6.0 * wobble
                    } else {
                        3.5 + wobble
                    }
                }
                // A desk: office hours on weekdays.
                1 => {
                    if (9..18).contains(&hour) && day % 7 < 5 {
                        110.0 + 40.0 * wobble
                    } else {
                        12.0 + 2.0 * wobble
                    }
                }
                // A washing machine, every third evening.
                _ => {
                    if day % 3 == 0 && (18..20).contains(&hour) {
                        450.0 + 900.0 * wobble
                    } else {
                        0.8
                    }
                }
            }
        };
        let mut energy = Vec::with_capacity(times.len());
        let mut sum = 0.0;
        for w in times.windows(2) {
            sum += power(w[1]) * (w[1] - w[0]) as f64 / 3_600_000_000.0;
            energy.push(sum);
        }
        // The series must fit under the counter (a plug new from the factory has counted
        // little): scale the month down if needed.
        let k = if sum > 0.0 { (0.95 * counter_now / sum).min(1.0) } else { 1.0 };
        let base = counter_now - k * sum;
        let id = DeviceId::kasa(&d.device_id);
        for (n, t) in times.iter().enumerate() {
            let p = k * power(*t);
            let kwh = base + k * if n == 0 { 0.0 } else { energy[n - 1] };
            store.record(&HubEvent::Sample {
                id: id.clone(),
                reading: Reading {
                    at_ms: *t,
                    on: true,
                    outlets_on: vec![],
                    power_w: Some(p),
                    voltage_v: Some(230.0),
                    current_a: Some(p / 230.0),
                    total_kwh: Some(kwh),
                    rssi: Some(-55),
                    latency_ms: 2.0,
                },
            });
        }
    }
    tokio::time::timeout(PATIENCE, store.flush()).await.expect("store flush hangs").expect("store flush");
}

/// Starts Chromium, or fails the test saying how to install it.
async fn browser(dir: &Path) -> Browser {
    match Browser::launch(dir).await {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    }
}

/// A JavaScript string literal.
fn js(s: &str) -> String {
    json!(s).to_string()
}

async fn ok<T>(what: &str, r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Asserts the page reported no JavaScript exception and no console error.
fn assert_clean(page: &Page, what: &str) {
    let log = page.log();
    assert!(log.exceptions.is_empty(), "{what}: JavaScript exceptions: {:#?}", log.exceptions);
    let errors: Vec<&String> = log.console.iter().filter(|l| l.starts_with("console.error")).collect();
    assert!(errors.is_empty(), "{what}: console errors: {errors:#?}");
}

/// Removes the transient notices ("Schedule added") before a screenshot.
async fn clear_toasts(page: &Page) {
    ok("clear toasts", page.eval("document.getElementById('toasts').replaceChildren(); true").await).await;
}

/// The `aria-pressed` of a toggle.
async fn pressed(page: &Page, selector: &str) -> bool {
    let v = ok(
        selector,
        page.eval(&format!("document.querySelector({})?.getAttribute('aria-pressed')", js(selector))).await,
    )
    .await;
    v == "true"
}

/// Waits until a condition on the stack holds.
async fn eventually<F: FnMut() -> bool>(what: &str, mut f: F) {
    let r = tokio::time::timeout(PATIENCE, async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    r.unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

/// Facts about the page layout, for the responsive checks.
async fn layout(page: &Page) -> Value {
    ok(
        "layout",
        page.eval(
            "(() => { const cards = [...document.querySelectorAll('.card')]; \
             return { columns: new Set(cards.map(c => Math.round(c.getBoundingClientRect().left))).size, \
                      overflow: document.documentElement.scrollWidth - window.innerWidth, \
                      cards: cards.length }; })()",
        )
        .await,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_switches_a_plug_follows_live_changes_and_draws_charts() {
    let _one = ONE_BROWSER.lock().await;
    let mut stack = Stack::start(Ipv4Addr::new(127, 0, 41, 2), Security::open(), true).await;
    let ids = stack.wait_online().await;
    let (fridge, strip) = (ids[0].as_str(), ids[1].as_str());
    // The fridge starts off (so the click below switches it on) and the lamp on.
    stack.hub.switch(&ids[0], plugctl_hub::SwitchAction::Off, None).await.expect("fridge off");
    stack.hub.switch(&ids[3], plugctl_hub::SwitchAction::On, None).await.expect("lamp on");
    let shots = artifacts();
    let b = browser(stack.dir.path()).await;

    // ---- desktop: the device list ---------------------------------------------------------
    let page = ok("new page", b.new_page(1280, 800, false).await).await;
    ok("open /", page.goto(&stack.url("/")).await).await;
    ok(
        "device cards",
        page.wait_for(
            "document.querySelectorAll('.card[data-online=true] .toggle:not([disabled])').length >= 4 && \
             document.getElementById('live').dataset.state === 'live'",
            "four online device cards and the live stream",
        )
        .await,
    )
    .await;
    let card = |id: &str| format!(".card[data-id={}]", js(id));
    let fridge_toggle = format!("{} .toggle", card(fridge));
    // Every card shows its name, room, model, family and the power now.
    let text =
        ok("card text", page.eval(&format!("document.querySelector({}).innerText", js(&card(fridge)))).await)
            .await;
    let text = text.as_str().unwrap_or_default().to_string();
    for want in ["Fridge", "Kitchen", "HS110", "Kasa", "Power now", "Today", "This month", "W", "kWh"] {
        assert!(text.contains(want), "the fridge card lacks {want:?}: {text:?}");
    }
    // Energy today and this month come from the store's totals (the seeded month).
    ok(
        "energy totals",
        page.wait_for(
            &format!(
                "document.querySelector({} + ' .m-month .value').textContent !== '—'",
                js(&card(fridge))
            ),
            "this month's energy on the fridge card",
        )
        .await,
    )
    .await;
    let grid = layout(&page).await;
    assert!(grid["columns"].as_u64().unwrap_or(0) >= 2, "a desktop shows a grid: {grid}");
    assert!(grid["overflow"].as_i64().unwrap_or(1) <= 0, "no horizontal scrolling: {grid}");

    // Click the fridge's toggle: the plug switches and the page shows it.
    let before = stack.relays(0)[0];
    assert_eq!(pressed(&page, &fridge_toggle).await, before, "the page shows the plug's state");
    ok("click the toggle", page.click(&fridge_toggle).await).await;
    eventually("the emulated plug to switch", || stack.relays(0) == vec![!before]).await;
    ok(
        "the page shows the new state",
        page.wait_for(
            &format!(
                "(() => {{ const b = document.querySelector({}); return b.getAttribute('aria-pressed') === {} && \
                 !b.disabled && b.textContent.includes({}); }})()",
                js(&fridge_toggle),
                js(if before { "false" } else { "true" }),
                js(if before { "Off" } else { "On" }),
            ),
            "the toggle to show the new state",
        )
        .await,
    )
    .await;
    let view = stack.hub.device(&ids[0]).expect("fridge");
    assert_eq!(view.reading.map(|r| r.on), Some(!before), "the hub read the new state back");

    // A change made elsewhere (the API, a schedule, the plug's button) reaches the page live.
    let outlet_sel = format!("{} .toggle[data-outlet='2']", card(strip));
    let outlet_before = stack.relays(1)[2];
    assert_eq!(pressed(&page, &outlet_sel).await, outlet_before);
    let action = if outlet_before { plugctl_hub::SwitchAction::Off } else { plugctl_hub::SwitchAction::On };
    stack.hub.switch(&ids[1], action, Some(2)).await.expect("switch outlet 3 through the hub");
    assert_eq!(stack.relays(1)[2], !outlet_before);
    ok(
        "live update",
        page.wait_for(
            &format!(
                "document.querySelector({})?.getAttribute('aria-pressed') === {}",
                js(&outlet_sel),
                js(&(!outlet_before).to_string())
            ),
            "the strip's outlet 3 to follow over server-sent events",
        )
        .await,
    )
    .await;
    ok("desktop screenshot", page.screenshot(&shots.join("dashboard-desktop.png"), false).await).await;
    assert_clean(&page, "device list (desktop)");

    // ---- desktop: one device ----------------------------------------------------------------
    ok("open the device page", page.goto(&stack.url(&format!("/device/{fridge}"))).await).await;
    let charts = ok(
        "charts",
        page.wait_for(
            "(() => { const p = document.querySelector('#power-chart svg'); const e = document.querySelector('#energy-chart svg'); \
             if (!p || !e || !p.querySelector('path.line') || !e.querySelector('rect.bar')) return null; \
             const titles = s => [...s.querySelectorAll('.axis-title')].map(t => t.textContent); \
             const ticks = (s, a) => [...s.querySelectorAll(a + ' text.tick')].map(t => t.textContent); \
             return { power: titles(p), energy: titles(e), py: ticks(p, '.axis-y'), px: ticks(p, '.axis-x'), \
                      ey: ticks(e, '.axis-y'), ex: ticks(e, '.axis-x'), \
                      bars: [...e.querySelectorAll('rect.bar')].filter(r => +r.getAttribute('height') > 0).length, \
                      label: p.getAttribute('aria-label') }; })()",
            "the power and energy charts with data",
        )
        .await,
    )
    .await;
    let strs = |k: &str| -> Vec<String> {
        charts[k]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    assert!(strs("power").contains(&"Power (W)".to_string()), "power chart axis titles: {charts}");
    assert!(strs("power").contains(&"Time".to_string()), "power chart axis titles: {charts}");
    assert!(strs("energy").contains(&"Energy (kWh)".to_string()), "energy chart axis titles: {charts}");
    assert!(strs("energy").contains(&"Day".to_string()), "energy chart axis titles: {charts}");
    for axis in ["py", "px", "ey", "ex"] {
        assert!(strs(axis).len() >= 3, "axis {axis} has readable ticks: {charts}");
    }
    assert!(
        strs("px").iter().all(|t| t.len() == 5 && t.as_bytes()[2] == b':'),
        "time ticks are HH:MM: {charts}"
    );
    assert!(charts["bars"].as_u64().unwrap_or(0) >= 25, "a month of daily energy: {charts}");
    // The ticks stay readable: no two labels of an axis overlap.
    let overlap = ok(
        "tick overlap",
        page.eval(
            "[...document.querySelectorAll('.chart svg .axis-x')].some(g => { \
               const r = [...g.querySelectorAll('text.tick')].map(t => t.getBoundingClientRect()); \
               return r.some((a, i) => i > 0 && a.left < r[i - 1].right); })",
        )
        .await,
    )
    .await;
    assert_eq!(overlap, Value::Bool(false), "x-axis labels overlap");
    // The switch on this page, and the event the click above logged.
    assert_eq!(pressed(&page, ".head-switch .toggle").await, !before);
    ok(
        "event log",
        page.wait_for(
            &format!(
                "[...document.querySelectorAll('#events .log li')].some(li => li.textContent.includes({}))",
                js(if before { "Switched off" } else { "Switched on" })
            ),
            "the switch in the device's event log",
        )
        .await,
    )
    .await;

    // Add a schedule with the form: 07:30 on weekdays, switch on.
    ok("open the form", page.click("#schedules details.add > summary").await).await;
    ok(
        "fill the form",
        page.eval(
            "(() => { const f = document.querySelector('#schedules form'); f.time.value = '07:30'; \
             for (const d of ['mon','tue','wed','thu','fri']) f.querySelector(`input[name=day][value=${d}]`).checked = true; \
             f.action.value = 'on'; f.rname.value = 'Fridge check'; return true; })()",
        )
        .await,
    )
    .await;
    ok("submit", page.click("#schedules form button[type=submit]").await).await;
    ok(
        "schedule listed",
        page.wait_for(
            "[...document.querySelectorAll('#schedules li[data-schedule]')].some(li => li.textContent.includes('at 07:30') && li.textContent.includes('Mon–Fri'))",
            "the new schedule in the list",
        )
        .await,
    )
    .await;
    let rules = stack.hub.store().schedules().expect("schedules");
    assert_eq!(rules.len(), 1, "{rules:#?}");
    let rule = &rules[0].rule;
    assert_eq!(rule["device"], fridge, "{rule}");
    assert_eq!(rule["action"], "on", "{rule}");
    assert_eq!(rule["when"]["cron"], "30 7 * * 1,2,3,4,5", "{rule}");
    assert_eq!(rule["name"], "Fridge check", "{rule}");
    ok("close the form", page.click("#schedules details.add > summary").await).await;
    ok("scroll to the top", page.eval("window.scrollTo(0, 0)").await).await;
    clear_toasts(&page).await;
    ok("device screenshot", page.screenshot(&shots.join("dashboard-device-desktop.png"), true).await).await;
    assert_clean(&page, "device page (desktop)");

    // ---- desktop: schedules and the event log -----------------------------------------------
    ok("open /schedules", page.goto(&stack.url("/schedules")).await).await;
    ok(
        "schedules page",
        page.wait_for(
            "[...document.querySelectorAll('li[data-schedule]')].some(li => li.textContent.includes('Fridge') && li.textContent.includes('at 07:30')) \
             && document.querySelectorAll('form select[name=device] option').length === 4",
            "the rule (with its device's name) and the form's device list",
        )
        .await,
    )
    .await;
    ok("schedules screenshot", page.screenshot(&shots.join("dashboard-schedules-desktop.png"), false).await)
        .await;
    ok("open /events", page.goto(&stack.url("/events")).await).await;
    ok(
        "event log",
        page.wait_for(
            "[...document.querySelectorAll('.log li')].some(li => li.textContent.includes('Fridge') && li.textContent.includes('Switched on')) \
             && [...document.querySelectorAll('.log li')].some(li => li.textContent.includes('Desk strip') && li.textContent.includes('Plug 3 switched'))",
            "the switches in the event log, with device and outlet names",
        )
        .await,
    )
    .await;
    ok("events screenshot", page.screenshot(&shots.join("dashboard-events-desktop.png"), false).await).await;
    assert_clean(&page, "schedules and events (desktop)");
    page.close().await;

    // ---- phone ------------------------------------------------------------------------------
    let phone = ok("phone page", b.new_page(390, 844, true).await).await;
    ok("open / on a phone", phone.goto(&stack.url("/")).await).await;
    ok(
        "cards on a phone",
        phone
            .wait_for(
                "document.querySelectorAll('.card[data-online=true] .toggle:not([disabled])').length >= 4 && \
                 [...document.querySelectorAll('.m-month .value')].some(v => v.textContent !== '—')",
                "the device cards on a phone",
            )
            .await,
    )
    .await;
    let l = layout(&phone).await;
    assert_eq!(l["columns"], 1, "one column on a phone: {l}");
    assert!(l["overflow"].as_i64().unwrap_or(1) <= 0, "no horizontal scrolling on a phone: {l}");
    // Touch targets: every toggle is at least 40 CSS pixels tall.
    let small = ok(
        "toggle sizes",
        phone.eval("[...document.querySelectorAll('.card .toggle')].filter(b => b.getBoundingClientRect().height < 40).length").await,
    )
    .await;
    assert_eq!(small, 0, "toggles smaller than a finger");
    ok("phone screenshot", phone.screenshot(&shots.join("dashboard-phone.png"), false).await).await;
    ok("open the strip on a phone", phone.goto(&stack.url(&format!("/device/{strip}"))).await).await;
    ok(
        "strip page",
        phone
            .wait_for(
                "document.querySelectorAll('.outlets-panel .toggle').length === 7 && document.querySelector('#power-chart svg path.line')",
                "the strip's outlets and chart on a phone",
            )
            .await,
    )
    .await;
    let l = layout(&phone).await;
    assert!(l["overflow"].as_i64().unwrap_or(1) <= 0, "no horizontal scrolling on the device page: {l}");
    ok("phone device screenshot", phone.screenshot(&shots.join("dashboard-device-phone.png"), true).await)
        .await;

    // A plug that stops answering turns offline on the page, its switch disabled.
    ok("back to the list", phone.goto(&stack.url("/")).await).await;
    ok(
        "cards again",
        phone
            .wait_for(
                "document.querySelectorAll('.card[data-online=true]').length === 4",
                "four online cards",
            )
            .await,
    )
    .await;
    if let Some(h) = stack.hf.take() {
        h.shutdown().await;
    }
    let lamp = format!(".card[data-id={}]", js(ids[3].as_str()));
    ok(
        "offline",
        phone
            .wait_for(
                &format!(
                    "(() => {{ const c = document.querySelector({lamp}); return c.dataset.online === 'false' && \
                     c.querySelector('.badge').textContent === 'offline' && c.querySelector('.toggle').disabled; }})()",
                    lamp = js(&lamp)
                ),
                "the stopped plug's card to show it offline",
            )
            .await,
    )
    .await;
    assert_clean(&phone, "phone");
    phone.close().await;

    b.close().await;
    stack.stop().await;
    for f in [
        "dashboard-desktop.png",
        "dashboard-device-desktop.png",
        "dashboard-schedules-desktop.png",
        "dashboard-events-desktop.png",
        "dashboard-phone.png",
        "dashboard-device-phone.png",
    ] {
        let p = shots.join(f);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 10_000, "{} is a real screenshot ({len} bytes)", p.display());
        println!("screenshot: {}", p.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_the_dashboard_signs_in_switches_and_signs_out() {
    let _one = ONE_BROWSER.lock().await;
    let token = "dashboard-test-token-0123456789";
    let stack = Stack::start(Ipv4Addr::new(127, 0, 42, 2), Security::with_token(token), false).await;
    let ids = stack.wait_online().await;
    let b = browser(stack.dir.path()).await;
    let page = ok("new page", b.new_page(1280, 800, false).await).await;

    // Not signed in: the dashboard sends the browser to the sign-in page.
    ok("open /", page.goto(&stack.url("/")).await).await;
    ok(
        "sign-in page",
        page.wait_for(
            "location.pathname === '/login' && !!document.querySelector('input[name=token]')",
            "the sign-in page",
        )
        .await,
    )
    .await;
    ok(
        "sign in",
        page.eval(&format!("document.querySelector('input[name=token]').value = {}; true", js(token))).await,
    )
    .await;
    ok("submit", page.click("form button[type=submit]").await).await;
    ok(
        "dashboard",
        page.wait_for(
            "location.pathname === '/' && document.querySelectorAll('.card .toggle:not([disabled])').length >= 3 && \
             document.getElementById('live').dataset.state === 'live' && !document.getElementById('logout').hidden",
            "the dashboard after signing in, with its stream and a Log out button",
        )
        .await,
    )
    .await;

    // Switching works with the session cookie (the page sends X-Plugctl: 1).
    let sel = format!(".card[data-id={}] .toggle", js(ids[0].as_str()));
    let before = stack.relays(0)[0];
    ok("click", page.click(&sel).await).await;
    eventually("the emulated plug to switch", || stack.relays(0) == vec![!before]).await;
    ok(
        "new state",
        page.wait_for(
            &format!(
                "document.querySelector({}).getAttribute('aria-pressed') === {}",
                js(&sel),
                js(&(!before).to_string())
            ),
            "the new state",
        )
        .await,
    )
    .await;
    assert_clean(&page, "signed-in dashboard");

    // Log out: back to the sign-in page, and the old session no longer opens the dashboard.
    ok("log out", page.click("#logout").await).await;
    ok(
        "signed out",
        page.wait_for("location.pathname === '/login'", "the sign-in page after logging out").await,
    )
    .await;
    ok("open / again", page.goto(&stack.url("/")).await).await;
    ok(
        "still signed out",
        page.wait_for("location.pathname === '/login'", "the sign-in page, not the dashboard").await,
    )
    .await;

    page.close().await;
    b.close().await;
    stack.stop().await;
}
