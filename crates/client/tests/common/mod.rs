//! Tiny purpose-built Kasa servers on loopback for the client tests.
//!
//! Every server binds `127.0.0.1:0` (a free port) and runs a handler per accepted
//! connection; the handler gets the connection number (0-based) and the stream and uses
//! [`read_request`] / [`write_reply`] to speak the framing from `plugctl-proto`.

#![allow(dead_code)]

use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use plugctl_client::kasa::ClientConfig;
use plugctl_proto::kasa::{cipher, frame};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

/// A running fake device. Aborted when dropped.
pub struct Server {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Server {
    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a server on `127.0.0.1:0` running `handler(conn_no, stream)` for each connection.
pub async fn spawn<F, Fut>(handler: F) -> Server
where
    F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            stream.set_nodelay(true).unwrap();
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(handler(n, stream));
        }
    });
    Server { addr, connections, task }
}

/// A server whose every connection serves requests with `answer` until the client closes.
pub async fn spawn_answering<F>(answer: F) -> Server
where
    F: Fn(&Value) -> Value + Send + Sync + 'static,
{
    let answer = Arc::new(answer);
    spawn(move |_, mut s| {
        let answer = answer.clone();
        async move {
            while let Some(req) = read_request(&mut s).await {
                write_reply(&mut s, &answer(&req)).await;
            }
        }
    })
    .await
}

/// Reads one request frame and returns its JSON; `None` at EOF or on garbage.
pub async fn read_request(s: &mut TcpStream) -> Option<Value> {
    let mut header = [0u8; 4];
    s.read_exact(&mut header).await.ok()?;
    let len = u32::from_be_bytes(header) as usize;
    assert!(len <= frame::DEFAULT_MAX_FRAME, "client sent a {len}-byte frame");
    let mut payload = vec![0; len];
    s.read_exact(&mut payload).await.ok()?;
    cipher::decrypt_in_place(&mut payload);
    serde_json::from_slice(&payload).ok()
}

/// Writes one reply frame in a single write.
pub async fn write_reply(s: &mut TcpStream, reply: &Value) {
    let _ = s.write_all(&frame::encode(reply.to_string().as_bytes())).await;
}

/// A quick config for tests: short timeout, short back-off.
pub fn quick(timeout_ms: u64, retries: u32) -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_millis(timeout_ms),
        retries,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..ClientConfig::default()
    }
}

/// A plug sysinfo.
pub fn plug_sysinfo(device_id: &str, with_emeter: bool) -> Value {
    json!({
        "sw_ver":"1.2.5 Build 171213 Rel.101523","hw_ver":"1.0","type":"IOT.SMARTPLUGSWITCH",
        "model":"HS110(EU)","mac":"50:C7:BF:01:F8:CD","deviceId":device_id,
        "alias":"Kitchen","dev_name":"Wi-Fi Smart Plug With Energy Monitoring",
        "relay_state":0,"on_time":0,"feature": if with_emeter { "TIM:ENE" } else { "TIM" },
        "led_off":0,"rssi":-60
    })
}

/// An HS300-like strip sysinfo with `n` outlets (outlet i has state i % 2).
pub fn strip_sysinfo(device_id: &str, n: usize) -> Value {
    let children: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("{device_id}{i:02}"), "state": i % 2, "alias": format!("Plug {}", i + 1), "on_time": 0}))
        .collect();
    json!({
        "sw_ver":"1.0.6 Build 180627 Rel.081000","hw_ver":"1.0","model":"HS300(US)",
        "mic_type":"IOT.SMARTPLUGSWITCH","mac":"D8:0D:17:BA:CE:34","deviceId":device_id,
        "alias":"Strip","feature":"TIM:ENE","led_off":0,"child_num":n,"children":children
    })
}

/// A stateful fake plug or strip: answers `get_sysinfo`, `set_relay_state` (with
/// context), `set_dev_alias`, `set_led_off`, `reboot` and `emeter.get_realtime`; unknown
/// modules get -1. Every request is logged.
#[derive(Clone)]
pub struct FakeKasa {
    pub sysinfo: Arc<Mutex<Value>>,
    pub log: Arc<Mutex<Vec<Value>>>,
}

impl FakeKasa {
    pub fn new(sysinfo: Value) -> Self {
        Self { sysinfo: Arc::new(Mutex::new(sysinfo)), log: Arc::default() }
    }

    pub async fn serve(&self) -> Server {
        let me = self.clone();
        spawn_answering(move |req| me.answer(req)).await
    }

    pub fn requests(&self) -> Vec<Value> {
        self.log.lock().unwrap().clone()
    }

    fn answer(&self, req: &Value) -> Value {
        self.log.lock().unwrap().push(req.clone());
        let mut info = self.sysinfo.lock().unwrap();
        let ctx: Vec<String> = req["context"]["child_ids"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let mut out = serde_json::Map::new();
        let Some(modules) = req.as_object() else { return json!({}) };
        for (module, methods) in modules {
            if module == "context" {
                continue;
            }
            let mut res = serde_json::Map::new();
            let Some(methods) = methods.as_object() else { continue };
            for (method, params) in methods {
                let r = match (module.as_str(), method.as_str()) {
                    ("system", "get_sysinfo") => {
                        let mut s = info.clone();
                        s["err_code"] = json!(0);
                        s
                    }
                    ("system", "set_relay_state") => {
                        let state = params["state"].clone();
                        if ctx.is_empty() {
                            info["relay_state"] = state;
                        } else if let Some(children) = info.get_mut("children").and_then(Value::as_array_mut)
                        {
                            for c in children.iter_mut().filter(|c| ctx.iter().any(|id| c["id"] == *id)) {
                                c["state"] = state.clone();
                            }
                        }
                        json!({"err_code":0})
                    }
                    ("system", "set_dev_alias") => {
                        let alias = params["alias"].clone();
                        match (ctx.first(), info.get_mut("children").and_then(Value::as_array_mut)) {
                            (Some(id), Some(children)) => {
                                for c in children.iter_mut().filter(|c| c["id"] == *id) {
                                    c["alias"] = alias.clone();
                                }
                            }
                            _ => info["alias"] = alias,
                        }
                        json!({"err_code":0})
                    }
                    ("system", "set_led_off") => {
                        info["led_off"] = params["off"].clone();
                        json!({"err_code":0})
                    }
                    ("system", "reboot") => json!({"err_code":0}),
                    ("emeter", "get_realtime") => {
                        if !info["feature"].as_str().unwrap_or("").contains("ENE") {
                            res = serde_json::Map::new();
                            out.insert(module.clone(), json!({"err_code":-1,"err_msg":"module not support"}));
                            break;
                        }
                        // outlet index + 1 watts, 230 V, 0.1 A, 0.5 kWh (v2 integer units)
                        let idx =
                            ctx.first().and_then(|id| id[id.len() - 2..].parse::<i64>().ok()).unwrap_or(0);
                        json!({"power_mw":(idx + 1) * 1000,"voltage_mv":230000 + idx * 1000,"current_ma":100,"total_wh":500,"err_code":0})
                    }
                    ("system", _) => json!({"err_code":-2,"err_msg":"member not support"}),
                    _ => {
                        res = serde_json::Map::new();
                        out.insert(module.clone(), json!({"err_code":-1,"err_msg":"module not support"}));
                        break;
                    }
                };
                res.insert(method.clone(), r);
            }
            if !res.is_empty() {
                out.insert(module.clone(), Value::Object(res));
            }
        }
        Value::Object(out)
    }
}
