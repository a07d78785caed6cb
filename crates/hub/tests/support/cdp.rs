//! A small Chrome DevTools Protocol driver for the browser tests: starts Debian's headless
//! Chromium on a private profile, talks JSON-RPC over the DevTools WebSocket
//! (`tokio-tungstenite`), and offers what the tests need: open a page at a viewport size,
//! evaluate JavaScript, wait for a condition, click like a user (real mouse events at the
//! element's centre), and take PNG screenshots. JavaScript exceptions and console errors of
//! the page are collected so a test can show (and fail on) them.
//!
//! Every wait has a hang guard; nothing here asserts on elapsed time.

#![allow(dead_code)]

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::{
    process::{Child, Command},
    sync::{mpsc, oneshot},
};
use tokio_tungstenite::tungstenite::Message;

/// Where Debian's package puts Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Longest wait for any one thing (a reply, a page, a condition): a hang guard only.
pub const GUARD: Duration = Duration::from_secs(30);

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// What the page reported: uncaught exceptions and `console.error` calls.
#[derive(Debug, Default, Clone)]
pub struct PageLog {
    /// Uncaught exceptions (with location).
    pub exceptions: Vec<String>,
    /// `console.error` / `console.warn` messages.
    pub console: Vec<String>,
}

struct Conn {
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next: AtomicU64,
    logs: Arc<Mutex<HashMap<String, PageLog>>>,
}

impl Conn {
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().map_err(|e| e.to_string())?.insert(id, tx);
        self.out
            .send(Message::Text(msg.to_string().into()))
            .map_err(|_| "browser connection closed".to_string())?;
        match tokio::time::timeout(GUARD, rx).await {
            Ok(Ok(r)) => r.map_err(|e| format!("{method}: {e}")),
            Ok(Err(_)) => Err(format!("{method}: browser connection closed")),
            Err(_) => Err(format!("{method}: no answer from the browser within {GUARD:?}")),
        }
    }
}

/// A running headless Chromium. Dropping it kills the process.
pub struct Browser {
    child: Child,
    conn: Arc<Conn>,
    profile: PathBuf,
    log_path: PathBuf,
}

impl Browser {
    /// Starts Chromium with a fresh profile under `work` (which must exist and be private to
    /// the test). Fails with a clear message when Chromium is not installed.
    pub async fn launch(work: &Path) -> Result<Browser, String> {
        let exe = std::env::var_os("PLUGCTL_CHROMIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(CHROMIUM));
        if !exe.exists() {
            return Err(format!(
                "Chromium is not installed at {} (the browser tests need Debian's `chromium` package): \
                 run ./scripts/test.sh, which installs it",
                exe.display()
            ));
        }
        let profile = work.join("chromium-profile");
        std::fs::create_dir_all(&profile).map_err(|e| format!("{}: {e}", profile.display()))?;
        let log_path = work.join("chromium.log");
        let log = std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
                "--disable-domain-reliability",
                "--disable-client-side-phishing-detection",
                "--disable-dev-shm-usage",
                "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
                "--no-proxy-server",
                "--hide-scrollbars",
                "--mute-audio",
                "--password-store=basic",
                "--use-mock-keychain",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let mut browser = Browser {
            child,
            conn: Arc::new(Conn {
                out: mpsc::unbounded_channel().0,
                pending: Arc::default(),
                next: AtomicU64::new(1),
                logs: Arc::default(),
            }),
            profile,
            log_path,
        };
        let ws_url = browser.devtools_url().await?;
        browser.connect(&ws_url).await?;
        Ok(browser)
    }

    /// Chromium writes the port and path of its DevTools endpoint to `DevToolsActivePort`.
    async fn devtools_url(&mut self) -> Result<String, String> {
        let file = self.profile.join("DevToolsActivePort");
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            if let Ok(text) = std::fs::read_to_string(&file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    return Ok(format!("ws://127.0.0.1:{}{}", port.trim(), path.trim()));
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("Chromium exited ({status}) before it listened:\n{}", self.log()));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "Chromium did not open its DevTools port within {GUARD:?}:\n{}",
                    self.log()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn connect(&mut self, url: &str) -> Result<(), String> {
        let (ws, _) = tokio::time::timeout(GUARD, tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| "DevTools WebSocket: no answer".to_string())?
            .map_err(|e| format!("DevTools WebSocket {url}: {e}"))?;
        let (mut sink, mut stream) = ws.split();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let logs: Arc<Mutex<HashMap<String, PageLog>>> = Arc::default();
        let (p2, l2) = (pending.clone(), logs.clone());
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                if let Some(id) = v.get("id").and_then(Value::as_u64) {
                    let tx = p2.lock().ok().and_then(|mut p| p.remove(&id));
                    if let Some(tx) = tx {
                        let r = match v.get("error") {
                            Some(e) => Err(e.to_string()),
                            None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
                        };
                        let _ = tx.send(r);
                    }
                } else {
                    record_event(&l2, &v);
                }
            }
            // The browser went away: fail everything still waiting.
            if let Ok(mut p) = p2.lock() {
                for (_, tx) in p.drain() {
                    let _ = tx.send(Err("browser connection closed".into()));
                }
            }
        });
        self.conn = Arc::new(Conn { out: out_tx, pending, next: AtomicU64::new(1), logs });
        Ok(())
    }

    /// Chromium's own output so far (for failure messages).
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// A new tab with the given viewport (CSS pixels); `mobile` emulates a phone (touch,
    /// `<meta name=viewport>` honoured).
    pub async fn new_page(&self, width: u32, height: u32, mobile: bool) -> Result<Page, String> {
        let t = self.conn.call(None, "Target.createTarget", json!({ "url": "about:blank" })).await?;
        let target = t["targetId"].as_str().ok_or("no targetId")?.to_string();
        let a = self
            .conn
            .call(None, "Target.attachToTarget", json!({ "targetId": target, "flatten": true }))
            .await?;
        let session = a["sessionId"].as_str().ok_or("no sessionId")?.to_string();
        let page = Page { conn: self.conn.clone(), session, target };
        page.call("Page.enable", json!({})).await?;
        page.call("Runtime.enable", json!({})).await?;
        page.set_viewport(width, height, mobile).await?;
        Ok(page)
    }

    /// Closes the browser.
    pub async fn close(mut self) {
        let _ =
            tokio::time::timeout(Duration::from_secs(5), self.conn.call(None, "Browser.close", json!({})))
                .await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

fn record_event(logs: &Mutex<HashMap<String, PageLog>>, v: &Value) {
    let Some(session) = v.get("sessionId").and_then(Value::as_str) else { return };
    let method = v.get("method").and_then(Value::as_str).unwrap_or("");
    let p = &v["params"];
    let Ok(mut logs) = logs.lock() else { return };
    let log = logs.entry(session.to_string()).or_default();
    match method {
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let text = d["exception"]["description"].as_str().or(d["text"].as_str()).unwrap_or("exception");
            log.exceptions.push(format!(
                "{text} at {}:{}:{}",
                d["url"].as_str().unwrap_or("?"),
                d["lineNumber"].as_i64().unwrap_or(-1) + 1,
                d["columnNumber"].as_i64().unwrap_or(-1) + 1
            ));
        }
        "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "warning")) => {
            let args: Vec<String> = p["args"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            x["value"].as_str().map(str::to_string).unwrap_or_else(|| x["value"].to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            log.console.push(format!("console.{}: {}", p["type"].as_str().unwrap_or(""), args.join(" ")));
        }
        _ => {}
    }
}

/// One tab.
pub struct Page {
    conn: Arc<Conn>,
    session: String,
    target: String,
}

impl Page {
    /// A raw CDP command in this tab's session.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.conn.call(Some(&self.session), method, params).await
    }

    /// Sets the viewport (CSS pixels).
    pub async fn set_viewport(&self, width: u32, height: u32, mobile: bool) -> Result<(), String> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": if mobile { 2 } else { 1 }, "mobile": mobile }),
        )
        .await?;
        self.call("Emulation.setTouchEmulationEnabled", json!({ "enabled": mobile })).await?;
        Ok(())
    }

    /// Exceptions and console errors seen so far.
    pub fn log(&self) -> PageLog {
        self.conn.logs.lock().ok().and_then(|l| l.get(&self.session).cloned()).unwrap_or_default()
    }

    /// Navigates and waits for the load event (`document.readyState == "complete"`).
    pub async fn goto(&self, url: &str) -> Result<(), String> {
        let r = self.call("Page.navigate", json!({ "url": url })).await?;
        if let Some(e) = r.get("errorText").and_then(Value::as_str) {
            return Err(format!("navigating to {url}: {e}"));
        }
        self.wait_for(
            &format!("location.href.startsWith({}) && document.readyState === 'complete'", json!(url)),
            "page load",
        )
        .await
        .map(|_| ())
    }

    /// Evaluates an expression (promises awaited) and returns its JSON value.
    pub async fn eval(&self, expr: &str) -> Result<Value, String> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        if let Some(d) = r.get("exceptionDetails") {
            let text = d["exception"]["description"].as_str().or(d["text"].as_str()).unwrap_or("exception");
            return Err(format!("{expr}: {text}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Polls `expr` until it is truthy and returns its value; fails after [`GUARD`] with
    /// `what`, the last value and the page's errors.
    pub async fn wait_for(&self, expr: &str, what: &str) -> Result<Value, String> {
        let deadline = tokio::time::Instant::now() + GUARD;
        loop {
            let last = match self.eval(expr).await {
                Ok(v) if truthy(&v) => return Ok(v),
                Ok(v) => v,
                Err(e) => Value::String(e),
            };
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "waiting for {what}: `{expr}` still {last} after {GUARD:?}; page: {:?}",
                    self.log()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the first element matching `selector` like a user: scrolls it into view and
    /// sends a real mouse press and release at its centre.
    pub async fn click(&self, selector: &str) -> Result<(), String> {
        let sel = json!(selector);
        let rect = self
            .wait_for(
                &format!(
                    "(() => {{ const e = document.querySelector({sel}); if (!e) return null; \
                     e.scrollIntoView({{block: 'center', inline: 'center'}}); const r = e.getBoundingClientRect(); \
                     return r.width > 0 && r.height > 0 ? {{x: r.x + r.width / 2, y: r.y + r.height / 2}} : null; }})()"
                ),
                &format!("{selector} to be visible"),
            )
            .await?;
        let (x, y) = (rect["x"].as_f64().unwrap_or(0.0), rect["y"].as_f64().unwrap_or(0.0));
        // The element must really be the one under the pointer (not covered by something).
        let hit = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({sel}); const h = document.elementFromPoint({x}, {y}); \
                 return !!e && !!h && (e === h || e.contains(h)); }})()"
            ))
            .await?;
        if hit != Value::Bool(true) {
            return Err(format!("{selector} is covered by another element at ({x}, {y})"));
        }
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "buttons": if kind == "mousePressed" { 1 } else { 0 }, "clickCount": 1 }),
            )
            .await?;
        }
        Ok(())
    }

    /// Saves a PNG of the viewport (or of the whole page with `full_page`).
    pub async fn screenshot(&self, path: &Path, full_page: bool) -> Result<(), String> {
        // Let CSS transitions (a toggle sliding over) finish first.
        self.wait_for(
            "document.getAnimations().every(a => a.playState !== 'running') && \
             new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))",
            "animations to finish",
        )
        .await?;
        let mut params = json!({ "format": "png", "captureBeyondViewport": full_page });
        if full_page {
            let size = self
                .eval("({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})")
                .await?;
            params["clip"] = json!({ "x": 0, "y": 0, "width": size["w"], "height": size["h"], "scale": 1 });
        }
        let r = self.call("Page.captureScreenshot", params).await?;
        let data = r["data"].as_str().ok_or("no screenshot data")?;
        let png = base64_decode(data)?;
        if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Err("the screenshot is not a PNG".into());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Closes the tab.
    pub async fn close(self) {
        let _ = self.conn.call(None, "Target.closeTarget", json!({ "targetId": self.target })).await;
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Standard base64 (what CDP uses for screenshots).
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => return Err(format!("invalid base64 byte {c:#x}")),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_vectors() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9vYmFy").unwrap(), b"foobar");
        assert!(base64_decode("Zm9v!").is_err());
    }
}
