//! The JSON API end to end: emulated Kasa and Hi-Flying plugs on loopback, a hub polling them,
//! the API on 127.0.0.1:0, driven over real HTTP.

mod api_support;

use std::time::Duration;

use api_support::{problem, Env, Setup, PATIENCE};
use plugctl_hub::{api::Security, model::DeviceView};
use serde_json::{json, Value};

async fn env() -> Env {
    Env::start(Setup::emulated()).await
}

fn by_model<'a>(devices: &'a [DeviceView], prefix: &str) -> &'a DeviceView {
    devices
        .iter()
        .find(|d| d.info.model.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {devices:#?}"))
}

fn kasa_relays(env: &Env, index: usize) -> Vec<bool> {
    let fleet = env.kasa.as_ref().expect("kasa fleet");
    let dev = fleet.device(index).expect("device");
    let states = dev.lock().unwrap_or_else(|e| e.into_inner()).relay_states();
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_list_get_switch_patch_delete() {
    let env = env().await;
    let devices = env.wait_online(3).await;
    let c = &env.client;

    let list: Vec<Value> = c.get(env.url("/api/v1/devices")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.len(), 3, "{list:#?}");
    for d in &list {
        assert!(d["id"].is_string() && d["availability"]["online"] == true, "{d}");
    }

    // A single plug: the answer is the state read back, and the emulator agrees.
    let hs110 = by_model(&devices, "HS110");
    let id = hs110.info.id.as_str();
    let r = c.post(env.url(&format!("/api/v1/devices/{id}/off"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reading"]["on"], false, "{v}");
    assert_eq!(kasa_relays(&env, 0), vec![false]);
    let v: Value =
        c.post(env.url(&format!("/api/v1/devices/{id}/toggle"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["reading"]["on"], true, "{v}");
    assert_eq!(kasa_relays(&env, 0), vec![true]);
    let v: Value = c
        .post(env.url(&format!("/api/v1/devices/{id}/switch")))
        .json(&json!({"action": "off"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["reading"]["on"], false, "{v}");
    assert_eq!(kasa_relays(&env, 0), vec![false]);

    // One outlet of a strip.
    let strip = by_model(&devices, "HS300");
    let sid = strip.info.id.as_str();
    let before = kasa_relays(&env, 1);
    let want = !before[1];
    let action = if want { "on" } else { "off" };
    let v: Value = c
        .post(env.url(&format!("/api/v1/devices/{sid}/{action}?outlet=1")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["reading"]["outlets_on"][1], want, "{v}");
    let after = kasa_relays(&env, 1);
    assert_eq!(after[1], want);
    assert_eq!(after[0], before[0], "other outlets untouched");
    let p =
        problem(c.post(env.url(&format!("/api/v1/devices/{sid}/on?outlet=99"))).send().await.unwrap(), 422)
            .await;
    assert!(p["detail"].as_str().unwrap().contains("99"), "{p}");
    problem(c.post(env.url(&format!("/api/v1/devices/{sid}/on?outlet=x"))).send().await.unwrap(), 400).await;
    let p =
        problem(c.post(env.url(&format!("/api/v1/devices/{sid}/on?socket=1"))).send().await.unwrap(), 400)
            .await;
    assert!(p["detail"].as_str().unwrap().contains("socket"), "{p}");

    // The Hi-Flying plug.
    let hf = devices.iter().find(|d| d.info.family == plugctl_client::Family::Hf).expect("hf device");
    let hid = hf.info.id.as_str();
    let v: Value =
        c.post(env.url(&format!("/api/v1/devices/{hid}/on"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["reading"]["on"], true, "{v}");
    let plug_on = {
        let fleet = env.hf.as_ref().unwrap();
        let dev = fleet.plug(0).unwrap().device().clone();
        let on = dev.lock().unwrap_or_else(|e| e.into_inner()).relay(1);
        on
    };
    assert_eq!(plug_on, Some(true));

    // Get, patch (unknown fields rejected, naming the field), delete.
    let v: Value =
        c.get(env.url(&format!("/api/v1/devices/{hid}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["name"], "Reco plug");
    let r = c
        .patch(env.url(&format!("/api/v1/devices/{hid}")))
        .json(&json!({"name": "Desk lamp", "room": "Study", "tags": ["lamp"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!((v["name"].as_str(), v["room"].as_str()), (Some("Desk lamp"), Some("Study")), "{v}");
    let v: Value =
        c.get(env.url(&format!("/api/v1/devices/{hid}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["name"], "Desk lamp");
    let p = problem(
        c.patch(env.url(&format!("/api/v1/devices/{hid}")))
            .json(&json!({"nmae": "typo"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("nmae"), "{p}");
    problem(
        c.patch(env.url(&format!("/api/v1/devices/{hid}")))
            .json(&json!({"interval": 0.2}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    let r = c.delete(env.url(&format!("/api/v1/devices/{hid}"))).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let p = problem(c.get(env.url(&format!("/api/v1/devices/{hid}"))).send().await.unwrap(), 404).await;
    assert_eq!(p["device"], hid);
    problem(c.post(env.url(&format!("/api/v1/devices/{hid}/on"))).send().await.unwrap(), 404).await;
    problem(c.delete(env.url(&format!("/api/v1/devices/{hid}"))).send().await.unwrap(), 404).await;
    let list: Vec<Value> = c.get(env.url("/api/v1/devices")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.len(), 2);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_an_unreachable_device_is_503_with_its_error() {
    let mut env = env().await;
    let devices = env.wait_online(3).await;
    let id = by_model(&devices, "HS110").info.id.clone();
    // The plugs go away.
    env.kasa.take().unwrap().shutdown().await;
    let r = env.client.post(env.url(&format!("/api/v1/devices/{id}/on"))).send().await.unwrap();
    let p = problem(r, 503).await;
    assert_eq!(p["device"], id.as_str());
    assert_ne!(p["detail"], "", "{p}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn energy_history_and_events() {
    let env = env().await;
    let devices = env.wait_online(3).await;
    let c = &env.client;
    let id = by_model(&devices, "HS110").info.id.clone();

    // Energy: default range, explicit RFC 3339 / Unix ms ranges, every bucket.
    let v: Value =
        c.get(env.url(&format!("/api/v1/devices/{id}/energy"))).send().await.unwrap().json().await.unwrap();
    assert!(
        v["points"].is_array()
            && v["totals"]["today_kwh"].is_number()
            && v["totals"]["month_kwh"].is_number(),
        "{v}"
    );
    assert_eq!(v["to_ms"].as_i64().unwrap() - v["from_ms"].as_i64().unwrap(), 24 * 3_600_000);
    let now = jiff::Timestamp::now();
    let from = (now - jiff::SignedDuration::from_hours(2)).to_string();
    for bucket in ["raw", "minute", "hour", "day", "month"] {
        let r = c
            .get(env.url(&format!("/api/v1/devices/{id}/energy")))
            .query(&[("from", from.as_str()), ("to", &now.as_millisecond().to_string()), ("bucket", bucket)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "bucket {bucket}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["bucket"], bucket);
        assert_eq!(v["to_ms"], now.as_millisecond());
        assert!(v["range_kwh"].is_number(), "{v}");
    }
    let v: Value = c
        .get(env.url(&format!("/api/v1/devices/{id}/history?from=0&to=3600000&bucket=minute")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["points"], json!([]), "{v}");
    let bad = |q: &str| c.get(env.url(&format!("/api/v1/devices/{id}/energy?{q}"))).send();
    let p = problem(bad("from=yesterday").await.unwrap(), 400).await;
    assert!(p["detail"].as_str().unwrap().contains("from"), "{p}");
    problem(bad("from=2000&to=1000").await.unwrap(), 422).await;
    let p = problem(bad("from=0&to=172800000&bucket=raw").await.unwrap(), 422).await;
    assert!(p["detail"].as_str().unwrap().contains("raw"), "{p}");
    problem(bad("bucket=week").await.unwrap(), 400).await;
    problem(bad("form=1").await.unwrap(), 400).await;
    problem(c.get(env.url("/api/v1/devices/kasa-NOPE/energy")).send().await.unwrap(), 404).await;

    // A switch lands in the event log.
    let r = c.post(env.url(&format!("/api/v1/devices/{id}/toggle"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = env
        .eventually("a state change in the event log", || async {
            env.hub.store().flush().await.ok()?;
            let v: Value = c
                .get(env.url(&format!("/api/v1/events?device={id}&limit=50")))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let events = v["events"].as_array()?;
            events.iter().any(|e| e["kind"] == "state_changed").then_some(v)
        })
        .await;
    let events = page["events"].as_array().unwrap();
    assert!(events.iter().all(|e| e["id"] == id.as_str()), "{page}");
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first: {seqs:?}");
    // Paging.
    let v: Value = c.get(env.url("/api/v1/events?limit=1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["events"].as_array().unwrap().len(), 1);
    let next = v["next_before"].as_i64().expect("a next page");
    let v: Value = c
        .get(env.url(&format!("/api/v1/events?limit=5&before={next}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["events"].as_array().unwrap().iter().all(|e| e["seq"].as_i64().unwrap() < next), "{v}");
    problem(c.get(env.url("/api/v1/events?limit=0")).send().await.unwrap(), 422).await;
    problem(c.get(env.url("/api/v1/events?limit=5000")).send().await.unwrap(), 422).await;
    problem(c.get(env.url("/api/v1/events?befor=3")).send().await.unwrap(), 400).await;
    env.stop().await;
}

/// Reads the SSE stream until `pred` matches a `data:` payload.
async fn read_sse_until(
    resp: &mut reqwest::Response,
    buf: &mut String,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let r = tokio::time::timeout(PATIENCE, async {
        loop {
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect::<Vec<_>>()
                    .join("\n");
                if data.is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(&data).expect("SSE data is JSON");
                if pred(&v) {
                    return v;
                }
            }
            let chunk = resp.chunk().await.expect("stream").expect("stream not ended");
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    r.expect("the event arrives")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_receives_a_state_change_caused_by_a_switch() {
    let env = env().await;
    let devices = env.wait_online(3).await;
    let id = by_model(&devices, "HS110").info.id.clone();
    let was_on = devices.iter().find(|d| d.info.id == id).unwrap().reading.as_ref().unwrap().on;
    let mut resp = env
        .client
        .get(env.url(&format!("/api/v1/events/stream?device={id}&types=state_changed,online")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut buf = String::new();
    // The greeting comment: the subscription is in place.
    tokio::time::timeout(PATIENCE, async {
        while !buf.contains("\n\n") {
            let chunk = resp.chunk().await.unwrap().unwrap();
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("greeting");
    let r = env.client.post(env.url(&format!("/api/v1/devices/{id}/toggle"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ev = read_sse_until(&mut resp, &mut buf, |v| v["type"] == "state_changed").await;
    assert_eq!(ev["id"], id.as_str());
    assert_eq!(ev["on"], !was_on, "{ev}");
    assert!(ev["at_ms"].is_i64());
    problem(env.client.get(env.url("/api/v1/events/stream?types=bogus")).send().await.unwrap(), 400).await;
    drop(resp);
    // Shutting down ends open streams (the server stops although one is still open).
    let mut other = env.client.get(env.url("/api/v1/events/stream")).send().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(200), other.chunk()).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_crud() {
    let env = Env::start(Setup { scheduler: true, ..Setup::emulated() }).await;
    let devices = env.wait_online(3).await;
    let device = by_model(&devices, "HS110").info.id.as_str().to_string();
    let c = &env.client;
    let rule = json!({"name": "Night", "device": device, "action": "off", "when": {"cron": "0 23 * * *"}});

    // Create: a new id, filled into the stored rule.
    let r = c.post(env.url("/api/v1/schedules")).json(&rule).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let created: Value = r.json().await.unwrap();
    let sid = created["id"].as_str().unwrap().to_string();
    assert_eq!(loc, format!("/api/v1/schedules/{sid}"));
    assert_eq!(created["rule"]["id"], sid.as_str());
    assert_eq!(created["rule"]["device"], device.as_str());
    let list: Vec<Value> = c.get(env.url("/api/v1/schedules")).send().await.unwrap().json().await.unwrap();
    assert!(list.iter().any(|s| s["id"] == sid.as_str()), "{list:?}");
    let one: Value = c.get(env.url(&loc)).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["id"], sid.as_str());
    assert_eq!(one["rule"]["when"]["cron"], "0 23 * * *");

    // Replace, and create under a chosen id.
    let mut changed = rule.clone();
    changed["when"] = json!({"cron": "30 22 * * 1-5"});
    let r = c.put(env.url(&loc)).json(&changed).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let one: Value = c.get(env.url(&loc)).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["rule"]["when"]["cron"], "30 22 * * 1-5");
    let r = c.put(env.url("/api/v1/schedules/evening-off")).json(&rule).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let mut named = rule.clone();
    named["id"] = json!("morning");
    let r = c.post(env.url("/api/v1/schedules")).json(&named).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], "/api/v1/schedules/morning");
    problem(c.post(env.url("/api/v1/schedules")).json(&named).send().await.unwrap(), 409).await;

    // Invalid rules: the scheduler's message, naming the field.
    let p = problem(c.put(env.url("/api/v1/schedules/evening-off")).json(&named).send().await.unwrap(), 422)
        .await;
    assert!(p["detail"].as_str().unwrap().contains("id"), "{p}");
    problem(c.put(env.url("/api/v1/schedules/bad%20id")).json(&rule).send().await.unwrap(), 422).await;
    problem(c.post(env.url("/api/v1/schedules")).json(&json!([1, 2])).send().await.unwrap(), 422).await;
    let mut bad = rule.clone();
    bad["when"] = json!({"cron": "61 * * * *"});
    let p = problem(c.post(env.url("/api/v1/schedules")).json(&bad).send().await.unwrap(), 422).await;
    assert!(p["detail"].as_str().unwrap().contains("cron"), "{p}");
    let mut bad = rule.clone();
    bad["colour"] = json!("red");
    let p = problem(c.post(env.url("/api/v1/schedules")).json(&bad).send().await.unwrap(), 422).await;
    assert!(p["detail"].as_str().unwrap().contains("colour"), "{p}");
    let mut bad = rule.clone();
    bad["device"] = json!("kasa-NOPE");
    let p = problem(c.post(env.url("/api/v1/schedules")).json(&bad).send().await.unwrap(), 422).await;
    assert_eq!(p["device"], "kasa-NOPE");

    // The scheduler knows the rules.
    let control = env.scheduler.as_ref().unwrap().control();
    control.reload_and_wait().await;
    let ids: Vec<String> = control.status().iter().map(|s| s.id.clone()).collect();
    for id in [sid.as_str(), "evening-off", "morning"] {
        assert!(ids.iter().any(|i| i == id), "{id} not in {ids:?}");
    }

    // Delete.
    assert_eq!(c.delete(env.url(&loc)).send().await.unwrap().status(), 204);
    problem(c.delete(env.url(&loc)).send().await.unwrap(), 404).await;
    problem(c.get(env.url(&loc)).send().await.unwrap(), 404).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_openapi_and_limits() {
    let env = Env::start(Setup::empty(Security::open())).await;
    let c = &env.client;

    // The OpenAPI document names every route the router serves.
    let r = c.get(env.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let routes = plugctl_hub::api::route_table();
    assert!(routes.len() > 20);
    for (method, path) in &routes {
        assert!(
            doc["paths"][path][method.to_ascii_lowercase()].is_object(),
            "{method} {path} is not in the OpenAPI document"
        );
        // And the router really serves it (neither 404 nor 405).
        let url = env.url(&path.replace("{id}", "x"));
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        if path == "/api/v1/events/stream" {
            continue;
        }
        let resp = c.request(m, &url).send().await.unwrap();
        let s = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        assert!(s != 405 && !(s == 404 && body.contains("no such API route")), "{method} {path}: {s} {body}");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys().filter(|k| *k != "parameters") {
            assert!(
                routes.iter().any(|(m, p)| p == path && m.eq_ignore_ascii_case(method)),
                "{method} {path} is documented but not routed"
            );
        }
    }

    // Problem shapes.
    let p = problem(c.get(env.url("/api/v1/nope")).send().await.unwrap(), 404).await;
    assert!(p["detail"].as_str().unwrap().contains("openapi"), "{p}");
    let r = c.put(env.url("/api/v1/devices")).send().await.unwrap();
    assert!(r.headers().get("allow").is_some());
    problem(r, 405).await;
    problem(c.get(env.url("/api/v1/devices/kasa-NOPE")).send().await.unwrap(), 404).await;
    let r = c
        .post(env.url("/api/v1/devices"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(r, 415).await;
    let r = c
        .post(env.url("/api/v1/devices"))
        .header("content-type", "application/json")
        .body("{\"host\":")
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
    let p = problem(
        c.post(env.url("/api/v1/devices"))
            .json(&json!({"host": "127.0.0.1", "colour": "red"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("colour"), "{p}");
    problem(c.post(env.url("/api/v1/devices")).json(&json!({"host": " "})).send().await.unwrap(), 422).await;

    // Bodies over 64 KiB: 413 whether announced by Content-Length or streamed.
    let huge = format!("{{\"host\":\"{}\"}}", "x".repeat(100 * 1024));
    let r = c
        .post(env.url("/api/v1/devices"))
        .header("content-type", "application/json")
        .body(huge.clone())
        .send()
        .await
        .unwrap();
    let p = problem(r, 413).await;
    assert!(p["detail"].as_str().unwrap().contains("65536"), "{p}");
    // (Just over the limit, so the server has read it all when it answers and the answer is
    // not lost to a reset.)
    let over = "x".repeat(64 * 1024 + 16).into_bytes();
    let stream = futures::stream::iter(
        over.chunks(8192).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    );
    let r = c
        .post(env.url("/api/v1/schedules"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    problem(r, 413).await;

    // Plain responses carry the hardening headers.
    let r = c.get(env.url("/api/v1/devices")).send().await.unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_with_a_prometheus_parser() {
    let env = env().await;
    let devices = env.wait_online(3).await;
    let c = &env.client;
    // Wait until every device has a poll in the histogram.
    let text = env
        .eventually("a poll of every device in the metrics", || async {
            let r = c.get(env.url("/metrics")).send().await.ok()?;
            let t = r.text().await.ok()?;
            devices
                .iter()
                .all(|d| {
                    t.lines().any(|l| {
                        l.starts_with("plugctl_poll_duration_seconds_count{")
                            && l.contains(&format!("id=\"{}\"", d.info.id))
                            && !l.ends_with(" 0")
                    })
                })
                .then_some(t)
        })
        .await;
    let r = c.get(env.url("/metrics")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");

    let scrape = parse(&text);
    let find = |name: &str, id: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get("id") == Some(id))
            .map(|s| s.value.clone())
    };
    for d in &devices {
        let id = d.info.id.as_str();
        assert!(
            matches!(find("plugctl_up", id), Some(prometheus_parse::Value::Gauge(v)) if v == 1.0),
            "up {id}"
        );
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == "plugctl_up" && s.labels.get("id") == Some(id))
            .unwrap();
        assert_eq!(s.labels.get("family"), Some(d.info.family.as_str()));
        assert_eq!(s.labels.get("name"), Some(d.info.name.as_str()));
        assert!(find("plugctl_relay_on", id).is_some(), "relay {id}");
        assert!(
            matches!(find("plugctl_poll_duration_seconds", id), Some(prometheus_parse::Value::Histogram(h)) if !h.is_empty()),
            "histogram {id}"
        );
        assert!(
            matches!(find("plugctl_poll_errors_total", id), Some(prometheus_parse::Value::Counter(_))),
            "errors {id}"
        );
    }
    // The metered plugs export power, voltage, current and the energy counter.
    let hs110 = by_model(&devices, "HS110").info.id.as_str();
    for m in ["plugctl_power_watts", "plugctl_voltage_volts", "plugctl_current_amperes"] {
        assert!(matches!(find(m, hs110), Some(prometheus_parse::Value::Gauge(_))), "{m}");
    }
    assert!(
        matches!(find("plugctl_energy_kwh_total", hs110), Some(prometheus_parse::Value::Counter(v)) if v >= 0.0)
    );
    // A strip exports one relay series per outlet.
    let strip = by_model(&devices, "HS300");
    let outlets = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "plugctl_relay_on" && s.labels.get("id") == Some(strip.info.id.as_str()))
        .count();
    assert_eq!(outlets, strip.info.outlets.len());
    assert!(outlets > 1);
    // Names with quotes and backslashes are escaped and survive parsing.
    let id = strip.info.id.as_str();
    let r = c
        .patch(env.url(&format!("/api/v1/devices/{id}")))
        .json(&json!({"name": "Strip \"A\" \\ desk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = c.get(env.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"name="Strip \"A\" \\ desk""#), "{text}");
    let scrape = parse(&text);
    let s =
        scrape.samples.iter().find(|s| s.metric == "plugctl_up" && s.labels.get("id") == Some(id)).unwrap();
    assert_eq!(s.labels.get("family"), Some("kasa"));
    assert!(matches!(s.value, prometheus_parse::Value::Gauge(v) if v == 1.0));
    env.stop().await;
}

/// Parses the exposition text; every line must be a comment, a HELP/TYPE line or a sample.
fn parse(text: &str) -> prometheus_parse::Scrape {
    use prometheus_parse::LineInfo;
    assert!(text.ends_with('\n'), "the text ends with a line feed");
    for line in text.lines() {
        let info = LineInfo::parse(line);
        assert!(
            !matches!(info, LineInfo::Ignored | LineInfo::Empty),
            "not a valid exposition line: {line:?}"
        );
        if let LineInfo::Sample { value, .. } = info {
            assert!(
                value == "+Inf" || value == "NaN" || value.parse::<f64>().is_ok(),
                "bad value in {line:?}"
            );
        }
    }
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses")
}
