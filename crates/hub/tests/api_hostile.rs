//! Hostile input against every route of the hub's HTTP server: wrong types, out-of-range
//! numbers, over-long strings, bad enums, bad instants, unknown and missing fields, path
//! traversal (API ids and static assets), oversized and malformed bodies, slow clients,
//! invalid tokens and sessions, cross-site requests and CORS preflights.
//!
//! Every refusal must be `application/problem+json` with the right status. The route list
//! comes from the router's table and from `openapi.json`; a route without hostile cases here
//! fails [`every_route_has_hostile_cases`]. Each test prints how many hostile inputs it tried.

mod api_support;
mod hostile_support;

use std::{collections::BTreeSet, net::SocketAddr, time::Duration};

use api_support::{Env, Setup};
use hostile_support::{problem, raw, raw_get, report, tried};
use plugctl_hub::{
    api::{self, ApiOptions, Limits, Security},
    auth::SESSION_COOKIE,
    config::HubConfig,
    Hub, StartOptions,
};
use reqwest::{header, Method};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// What a hostile request must get.
#[derive(Debug, Clone)]
enum Expect {
    /// A problem with this status.
    Problem(u16),
    /// A problem with one of these statuses (which check fires first depends on the body's
    /// target type).
    OneOf(&'static [u16]),
    /// A redirect to exactly this location (the sign-in flow answers browsers this way).
    RedirectTo(&'static str),
}

/// One hostile request.
#[derive(Debug, Clone)]
struct Case {
    what: String,
    method: Method,
    /// Path and query, sent as they are (already percent-encoded where needed).
    target: String,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    expect: Expect,
}

impl Case {
    fn new(what: impl Into<String>, method: &str, target: impl Into<String>, expect: Expect) -> Self {
        Case {
            what: what.into(),
            method: method.parse().expect("method"),
            target: target.into(),
            content_type: None,
            body: None,
            expect,
        }
    }

    fn json(mut self, body: Value) -> Self {
        self.content_type = Some("application/json");
        self.body = Some(body.to_string().into_bytes());
        self
    }

    fn raw_body(mut self, ctype: Option<&'static str>, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = ctype;
        self.body = Some(body.into());
        self
    }
}

/// Real ids of the emulated fleet.
struct Ids {
    plug: String,
    strip: String,
}

const TRAVERSALS: &[&str] = &[
    "..%2f..%2fetc%2fpasswd",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fCargo.toml",
    "..%5c..%5cwin.ini",
];

/// The JSON body a route takes when its other inputs are what is being tested.
fn neutral_body(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("PATCH", "/api/v1/devices/{id}") => Some(json!({})),
        ("POST", "/api/v1/devices/{id}/switch") => Some(json!({"action": "on"})),
        ("PUT", "/api/v1/schedules/{id}") => {
            Some(json!({"device": "kasa-NOPE", "action": "on", "when": {"cron": "0 7 * * *"}}))
        }
        _ => None,
    }
}

/// Cases every route with an `{id}` gets: ids that cannot exist, sent as traversal attempts,
/// over-long, with control characters.
fn id_cases(method: &str, path: &str) -> Vec<Case> {
    let mut bad_ids: Vec<String> = TRAVERSALS.iter().map(|s| s.to_string()).collect();
    bad_ids.push("x".repeat(300));
    bad_ids.push("kasa-%00".into());
    bad_ids.push("kasa-%0d%0aSet-Cookie:%20x=y".into());
    // A schedule id with a bad shape is refused (422) by PUT, which would create it; every
    // other route simply does not find it.
    let status = if method == "PUT" { 422 } else { 404 };
    bad_ids
        .into_iter()
        .map(|id| {
            let target = path.replace("{id}", &id);
            let mut c =
                Case::new(format!("{method} {path}: id {id:.40}"), method, target, Expect::Problem(status));
            if let Some(b) = neutral_body(method, path) {
                c = c.json(b);
            }
            c
        })
        .collect()
}

/// Cases for routes that take a JSON body: everything wrong with a body that is not about its
/// fields.
fn body_cases(method: &str, target: &str) -> Vec<Case> {
    let c = |what: &str, expect: u16| {
        Case::new(format!("{method} {target}: {what}"), method, target, Expect::Problem(expect))
    };
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    vec![
        c("truncated JSON", 400).raw_body(Some("application/json"), "{\"ac"),
        c("not JSON", 400).raw_body(Some("application/json"), "action=on"),
        Case::new(format!("{method} {target}: trailing garbage"), method, target, Expect::OneOf(&[400, 422]))
            .raw_body(Some("application/json"), "{} {}"),
        c("empty body", 400).raw_body(Some("application/json"), ""),
        // Typed bodies fail on the first wrong type (422) or token (400); untyped ones
        // (schedule rules) hit the parser's nesting limit (400). None recurses 5000 deep.
        Case::new(format!("{method} {target}: deeply nested"), method, target, Expect::OneOf(&[400, 422]))
            .raw_body(Some("application/json"), deep),
        c("invalid UTF-8", 400).raw_body(Some("application/json"), vec![b'"', 0xff, 0xfe, b'"']),
        c("a JSON array", 422).json(json!([])),
        c("a JSON number", 422).json(json!(7)),
        c("text/plain", 415).raw_body(Some("text/plain"), "{}"),
        c("a form", 415).raw_body(Some("application/x-www-form-urlencoded"), "a=b"),
        c("no content type", 415).raw_body(None, "{}"),
        c("65 KiB announced", 413)
            .raw_body(Some("application/json"), format!("\"{}\"", "x".repeat(65 * 1024))),
    ]
}

/// The hostile cases of one route. A route not listed here fails the test.
fn cases_for(method: &str, path: &str, ids: &Ids) -> Vec<Case> {
    let p = |what: &str, m: &str, target: &str, status: u16| {
        Case::new(format!("{m} {target}: {what}"), m, target.to_string(), Expect::Problem(status))
    };
    let plug = &ids.plug;
    let strip = &ids.strip;
    let mut out = Vec::new();
    if path.contains("{id}") {
        out.extend(id_cases(method, path));
    }
    match (method, path) {
        ("GET", "/api/v1/devices") => {
            out.push(p("PUT the collection", "PUT", path, 405));
            out.push(p("DELETE the collection", "DELETE", path, 405));
        }
        ("POST", "/api/v1/devices") => {
            out.extend(body_cases(method, path));
            let bad: Vec<(&str, Value, u16)> = vec![
                ("missing host", json!({"name": "x"}), 422),
                ("host wrong type", json!({"host": 127}), 422),
                ("host empty", json!({"host": ""}), 422),
                ("host blank", json!({"host": "   "}), 422),
                ("host port 0", json!({"host": "127.0.0.9:0"}), 422),
                ("host port too big", json!({"host": "127.0.0.9:70000"}), 422),
                ("host traversal", json!({"host": "../../etc/passwd"}), 422),
                ("host URL", json!({"host": "http://127.0.0.9/"}), 422),
                ("host over-long", json!({"host": format!("{}.lan", "a".repeat(300))}), 422),
                ("host with NUL", json!({"host": "127.0.0.9\u{0}"}), 422),
                ("udp_port 0", json!({"host": "127.0.0.9", "udp_port": 0}), 422),
                ("udp_port out of range", json!({"host": "127.0.0.9", "udp_port": 70000}), 422),
                ("udp_port negative", json!({"host": "127.0.0.9", "udp_port": -1}), 422),
                ("family bad enum", json!({"host": "127.0.0.9", "family": "zigbee"}), 422),
                ("family wrong case", json!({"host": "127.0.0.9", "family": "KASA"}), 422),
                ("interval 0", json!({"host": "127.0.0.9", "interval": 0}), 422),
                ("interval negative", json!({"host": "127.0.0.9", "interval": -5}), 422),
                ("interval huge", json!({"host": "127.0.0.9", "interval": 1e12}), 422),
                ("interval string", json!({"host": "127.0.0.9", "interval": "5"}), 422),
                ("name over-long", json!({"host": "127.0.0.9", "name": "n".repeat(200)}), 422),
                ("name control chars", json!({"host": "127.0.0.9", "name": "a\u{1b}[31mb"}), 422),
                ("room over-long", json!({"host": "127.0.0.9", "room": "r".repeat(200)}), 422),
                ("tags not a list", json!({"host": "127.0.0.9", "tags": "a,b"}), 422),
                ("too many tags", json!({"host": "127.0.0.9", "tags": vec!["t"; 33]}), 422),
                ("tag over-long", json!({"host": "127.0.0.9", "tags": ["t".repeat(200)]}), 422),
                ("cloud_free string", json!({"host": "127.0.0.9", "cloud_free": "yes"}), 422),
                ("unknown field", json!({"host": "127.0.0.9", "admin": true}), 422),
                ("unknown field id", json!({"host": "127.0.0.9", "id": "kasa-X"}), 422),
            ];
            for (what, body, status) in bad {
                out.push(p(what, method, path, status).json(body));
            }
            // A number that does not fit any JSON number type serde accepts.
            out.push(
                p("interval overflow", method, path, 400)
                    .raw_body(Some("application/json"), "{\"host\":\"127.0.0.9\",\"interval\":1e999}"),
            );
        }
        ("GET", "/api/v1/devices/{id}") => {
            out.push(p("unknown device", method, "/api/v1/devices/kasa-DOES-NOT-EXIST", 404));
        }
        ("PATCH", "/api/v1/devices/{id}") => {
            let t = format!("/api/v1/devices/{plug}");
            out.extend(body_cases(method, &t));
            let bad: Vec<(&str, Value)> = vec![
                ("name empty", json!({"name": ""})),
                ("name blank", json!({"name": "  "})),
                ("name over-long", json!({"name": "n".repeat(129)})),
                ("name control chars", json!({"name": "a\nb"})),
                ("name wrong type", json!({"name": 5})),
                ("room over-long", json!({"room": "r".repeat(129)})),
                ("tags wrong type", json!({"tags": [1, 2]})),
                ("too many tags", json!({"tags": vec!["t"; 40]})),
                ("interval 0.5", json!({"interval": 0.5})),
                ("interval 86401", json!({"interval": 86401})),
                ("interval bool", json!({"interval": true})),
                ("cloud_free number", json!({"cloud_free": 1})),
                ("unknown field host", json!({"host": "127.0.0.9"})),
                ("unknown field id", json!({"id": "kasa-X"})),
            ];
            for (what, body) in bad {
                out.push(p(what, method, &t, 422).json(body));
            }
            out.push(
                p("unknown device", method, "/api/v1/devices/kasa-NOPE", 404)
                    .json(json!({"cloud_free": true})),
            );
        }
        ("DELETE", "/api/v1/devices/{id}") => {
            out.push(p("unknown device", method, "/api/v1/devices/kasa-DOES-NOT-EXIST", 404));
        }
        ("POST", "/api/v1/devices/{id}/on" | "/api/v1/devices/{id}/off" | "/api/v1/devices/{id}/toggle") => {
            let t = path.replace("{id}", strip);
            for (q, status) in [
                ("outlet=-1", 400),
                ("outlet=abc", 400),
                ("outlet=1.5", 400),
                ("outlet=", 400),
                ("outlet=99999999999999999999999", 400),
                ("outlet=64", 422),
                ("outlet=4294967296", 422),
                ("outlet=0&outlet=1", 400),
                ("bogus=1", 400),
                ("outlet=0&admin=1", 400),
            ] {
                out.push(p(q, method, &format!("{t}?{q}"), status));
            }
            out.push(p("unknown device", method, &path.replace("{id}", "kasa-NOPE"), 404));
        }
        ("POST", "/api/v1/devices/{id}/switch") => {
            let t = format!("/api/v1/devices/{strip}/switch");
            out.extend(body_cases(method, &t));
            let bad: Vec<(&str, Value)> = vec![
                ("missing action", json!({"outlet": 0})),
                ("action bad enum", json!({"action": "explode"})),
                ("action wrong case", json!({"action": "ON"})),
                ("outlet out of range", json!({"action": "on", "outlet": 64})),
                ("outlet negative", json!({"action": "on", "outlet": -1})),
                ("outlet string", json!({"action": "on", "outlet": "0"})),
                ("outlet huge", json!({"action": "on", "outlet": 1u64 << 40})),
                ("unknown field", json!({"action": "on", "force": true})),
            ];
            for (what, body) in bad {
                out.push(p(what, method, &t, 422).json(body));
            }
            // serde_json reports a non-string enum value as a syntax error (400).
            out.push(
                Case::new(
                    format!("{method} {t}: action wrong type"),
                    method,
                    t.clone(),
                    Expect::OneOf(&[400, 422]),
                )
                .json(json!({"action": true})),
            );
        }
        ("GET", "/api/v1/devices/{id}/energy" | "/api/v1/devices/{id}/history") => {
            let t = path.replace("{id}", plug);
            let long = "9".repeat(70);
            for (q, status) in [
                ("from=yesterday".to_string(), 400),
                ("from=2025-13-45T00:00:00Z".into(), 400),
                ("from=2025-01-31".into(), 400),
                ("from=2025-01-31T25:00:00Z".into(), 400),
                ("from=2025-01-31T12:00:00".into(), 400),
                ("from=1.5".into(), 400),
                ("from=99999999999999999999".into(), 400),
                (format!("from={long}"), 400),
                ("from=%00".into(), 400),
                ("to=-5".into(), 422),
                ("to=253402300800000".into(), 422),
                ("from=1700000000000&to=1600000000000".into(), 422),
                ("from=1700000000000&to=1700000000000".into(), 422),
                ("from=1700000000000&to=1700200000000&bucket=raw".into(), 422),
                ("from=0&to=253402300799999&bucket=minute".into(), 422),
                ("bucket=weekly".into(), 400),
                ("bucket=RAW".into(), 400),
                ("bucket=".into(), 400),
                ("bucket=raw&bucket=day".into(), 400),
                ("bogus=1".into(), 400),
            ] {
                out.push(p(&q, method, &format!("{t}?{q}"), status));
            }
            out.push(p("unknown device", method, &path.replace("{id}", "kasa-NOPE"), 404));
        }
        ("GET", "/api/v1/events") => {
            for (q, status) in [
                ("limit=0".to_string(), 422),
                ("limit=1001".into(), 422),
                ("limit=-1".into(), 400),
                ("limit=abc".into(), 400),
                ("limit=18446744073709551616".into(), 400),
                ("before=0".into(), 422),
                ("before=-1".into(), 422),
                ("before=1e3".into(), 400),
                (format!("device={}", "d".repeat(300)), 422),
                ("device=kasa%0a-x".into(), 422),
                ("device=..%2f..%2fetc%2fpasswd".into(), 422),
                ("device=".into(), 422),
                ("limit=1&limit=2".into(), 400),
                ("bogus=1".into(), 400),
            ] {
                out.push(p(&q, method, &format!("{path}?{q}"), status));
            }
        }
        ("GET", "/api/v1/events/stream") => {
            for (q, status) in [
                ("types=bogus".to_string(), 400),
                ("types=online,bogus".into(), 400),
                (format!("types={}", "online,".repeat(60)), 400),
                (format!("device={}", "d".repeat(300)), 422),
                ("device=a%00b".into(), 422),
                ("bogus=1".into(), 400),
            ] {
                out.push(p(&q, method, &format!("{path}?{q}"), status));
            }
        }
        ("GET", "/api/v1/schedules") => {
            out.push(p("PATCH the collection", "PATCH", path, 405));
        }
        ("POST", "/api/v1/schedules") | ("PUT", "/api/v1/schedules/{id}") => {
            let t = path.replace("{id}", "hostile-rule");
            out.extend(body_cases(method, &t));
            let good = || json!({"device": plug, "action": "on", "when": {"cron": "0 7 * * *"}});
            let with = |k: &str, v: Value| {
                let mut g = good();
                g[k] = v;
                g
            };
            let without = |k: &str| {
                let mut g = good();
                g.as_object_mut().expect("object").remove(k);
                g
            };
            let bad: Vec<(&str, Value)> = vec![
                ("missing device", without("device")),
                ("missing action", without("action")),
                ("missing when", without("when")),
                ("unknown device", with("device", json!("kasa-NOPE"))),
                ("device over-long", with("device", json!("d".repeat(300)))),
                ("device wrong type", with("device", json!(5))),
                ("action bad enum", with("action", json!("explode"))),
                ("when wrong type", with("when", json!("0 7 * * *"))),
                ("when two kinds", with("when", json!({"cron": "0 7 * * *", "sunset": {}}))),
                ("when bad kind", with("when", json!({"moonrise": {}}))),
                ("cron minute 61", with("when", json!({"cron": "61 * * * *"}))),
                ("cron 6 fields", with("when", json!({"cron": "0 0 7 * * * *"}))),
                ("cron garbage", with("when", json!({"cron": "../../etc/passwd"}))),
                ("cron over-long", with("when", json!({"cron": format!("0 7 * * {}1", "1,".repeat(200))}))),
                ("sun offset too big", with("when", json!({"sunrise": {"offset_min": 721}}))),
                ("sun offset fraction", with("when", json!({"sunset": {"offset_min": 1.5}}))),
                ("sun offset unknown field", with("when", json!({"sunset": {"offset_h": 1}}))),
                ("days on a cron rule", with("days", json!(["mon"]))),
                ("timezone unknown", with("timezone", json!("Mars/Olympus_Mons"))),
                ("timezone traversal", with("timezone", json!("../../../etc/passwd"))),
                ("timezone wrong type", with("timezone", json!(1))),
                ("outlet 64", with("outlet", json!(64))),
                ("outlet negative", with("outlet", json!(-1))),
                ("name over-long", with("name", json!("n".repeat(101)))),
                ("enabled string", with("enabled", json!("yes"))),
                ("state malformed", with("state", json!({"checked_ms": "soon"}))),
                ("unknown field", with("owner", json!("root"))),
                ("id mismatch or bad", with("id", json!("../../x"))),
                ("id wrong type", with("id", json!(42))),
                ("id over-long", with("id", json!("i".repeat(65)))),
            ];
            for (what, body) in bad {
                out.push(p(what, method, &t, 422).json(body));
            }
        }
        ("GET", "/api/v1/schedules/{id}") => {
            out.push(p("unknown schedule", method, "/api/v1/schedules/nope", 404));
        }
        ("DELETE", "/api/v1/schedules/{id}") => {
            out.push(p("unknown schedule", method, "/api/v1/schedules/nope", 404));
        }
        ("POST", "/api/v1/discover") => {
            out.push(p("GET instead of POST", "GET", path, 405));
            out.push(
                p("65 KiB body", method, path, 413).raw_body(Some("application/json"), "x".repeat(65 * 1024)),
            );
        }
        ("POST", "/api/v1/reload") => {
            out.push(p("GET instead of POST", "GET", path, 405));
            out.push(
                p("65 KiB body", method, path, 413).raw_body(Some("application/json"), "x".repeat(65 * 1024)),
            );
            // This hub was started without a configuration file.
            out.push(p("no configuration file", method, path, 422));
        }
        ("GET", "/api/v1/openapi.json") => {
            out.push(p("POST", "POST", path, 405));
            out.push(p("a sibling file", "GET", "/api/v1/openapi.json%2f..%2f..%2fCargo.toml", 404));
            out.push(p("another document", "GET", "/api/v1/openapi.yaml", 404));
        }
        ("GET", "/metrics") => {
            out.push(p("POST", "POST", path, 405));
            out.push(p("DELETE", "DELETE", path, 405));
        }
        ("GET", "/login") => {
            for next in ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]
            {
                let enc: String = next.bytes().map(|b| format!("%{b:02X}")).collect();
                // Open hub: sign-in is a redirect, and only ever to a local path.
                out.push(Case::new(
                    format!("GET /login?next={next}"),
                    "GET",
                    format!("/login?next={enc}"),
                    Expect::RedirectTo("/"),
                ));
            }
        }
        ("POST", "/login") => {
            let f = |what: &str, body: &str, ctype: Option<&'static str>, status: u16| {
                p(what, "POST", "/login", status).raw_body(ctype, body.to_string())
            };
            let form = Some("application/x-www-form-urlencoded");
            out.push(f("unknown form field", "token=x&admin=1", form, 422));
            out.push(f("JSON instead of a form", "{\"token\":\"x\"}", Some("application/json"), 415));
            out.push(f("no content type", "token=x", None, 415));
            out.push(f("65 KiB form", &format!("token={}", "x".repeat(65 * 1024)), form, 413));
        }
        ("POST", "/logout") => {
            out.push(p("GET instead of POST", "GET", "/logout", 405));
        }
        (m, p) => panic!("no hostile cases for {m} {p}: add them to api_hostile.rs"),
    }
    out
}

/// Every `(METHOD, path)` of the router and of `openapi.json`.
fn all_routes() -> BTreeSet<(String, String)> {
    let table: BTreeSet<(String, String)> = api::route_table().into_iter().collect();
    let doc: Value = serde_json::from_str(api::openapi_document()).expect("openapi.json");
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("operations").keys().filter(|k| *k != "parameters") {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    assert_eq!(table, documented, "the router's routes and openapi.json disagree");
    table
}

#[test]
fn every_route_has_hostile_cases() {
    let ids = Ids { plug: "kasa-A".into(), strip: "kasa-B".into() };
    for (m, p) in all_routes() {
        assert!(!cases_for(&m, &p, &ids).is_empty(), "{m} {p} has no hostile cases");
    }
}

async fn send(env: &Env, c: &Case) -> reqwest::Response {
    let mut rb = env.client.request(c.method.clone(), env.url(&c.target));
    if let Some(t) = c.content_type {
        rb = rb.header(header::CONTENT_TYPE, t);
    }
    if let Some(b) = &c.body {
        rb = rb.body(b.clone());
    }
    rb.send().await.unwrap_or_else(|e| panic!("{}: {e}", c.what))
}

async fn check(env: &Env, c: &Case) {
    let r = send(env, c).await;
    match &c.expect {
        Expect::Problem(_) | Expect::OneOf(_) => {
            let wanted: &[u16] = match &c.expect {
                Expect::Problem(s) => std::slice::from_ref(s),
                Expect::OneOf(s) => s,
                Expect::RedirectTo(_) => unreachable!(),
            };
            let got = r.status().as_u16();
            let ctype = r.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("").to_string());
            let text = r.text().await.unwrap_or_default();
            assert!(wanted.contains(&got), "{}: got {got}, wanted {wanted:?}: {text}", c.what);
            assert_eq!(ctype.as_deref(), Some("application/problem+json"), "{}: {text}", c.what);
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", c.what));
            assert_eq!(v["status"], got, "{}: {v}", c.what);
            assert!(v["title"].is_string() && v["type"].is_string(), "{}: {v}", c.what);
            let detail = v["detail"].as_str().unwrap_or("");
            assert!(!detail.is_empty() && detail.len() < 2048, "{}: detail: {v}", c.what);
        }
        Expect::RedirectTo(loc) => {
            assert!(r.status().is_redirection(), "{}: {}", c.what, r.status());
            assert_eq!(r.headers()[header::LOCATION], *loc, "{}", c.what);
        }
    }
    tried();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_hostile_values() {
    let env = Env::start(Setup::emulated()).await;
    let devices = env.wait_online(3).await;
    let id_of = |model: &str| {
        devices.iter().find(|d| d.info.model.starts_with(model)).map(|d| d.info.id.to_string()).expect(model)
    };
    let ids = Ids { plug: id_of("HS110"), strip: id_of("HS300") };
    let mut n_routes = 0;
    for (m, p) in all_routes() {
        n_routes += 1;
        for c in cases_for(&m, &p, &ids) {
            check(&env, &c).await;
        }
    }
    // Nothing hostile got through: no schedule was created, no device changed or appeared.
    let r: Value = env.client.get(env.url("/api/v1/schedules")).send().await.unwrap().json().await.unwrap();
    assert_eq!(r, json!([]), "a hostile request created a schedule");
    let now = env.hub.devices();
    assert_eq!(now.len(), 3, "{now:#?}");
    for (a, b) in devices.iter().zip(&now) {
        assert_eq!((&a.info.name, &a.info.room, &a.info.tags), (&b.info.name, &b.info.room, &b.info.tags));
        assert_eq!(a.info.interval, b.info.interval);
    }
    // The hub still works.
    let r = env.client.post(env.url(&format!("/api/v1/devices/{}/on", ids.plug))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    eprintln!("api_hostile: {n_routes} routes covered");
    env.stop().await;
    report("every_route_refuses_hostile_values");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traversal_and_malformed_requests_on_the_wire() {
    let env = Env::start(Setup::empty(Security::open())).await;
    let addr = env.addr;
    // Static assets and raw, unnormalised paths.
    for path in [
        "/assets/..%2f..%2fetc%2fpasswd",
        "/assets/..%2F..%2FCargo.toml",
        "/assets/%2e%2e%2f%2e%2e%2fsrc%2flib.rs",
        "/assets/..%5c..%5cCargo.toml",
        "/assets/../../etc/passwd",
        "/assets/app.js%00.css",
        "/assets/app.js/..%2f..%2fCargo.toml",
        "/assets/.%2fapp.js",
        "/assets/APP.JS",
        "/assets/index.html",
        "/../../../../etc/passwd",
        "/api/v1/../../etc/passwd",
        "/api/v1/devices/../../../../etc/passwd",
        "/api/v1/%2e%2e/%2e%2e/etc/passwd",
        "/api/v2/devices",
    ] {
        let r = raw_get(addr, path, "").await;
        let v = r.problem(404);
        let detail = v["detail"].as_str().unwrap_or("");
        assert!(!detail.contains("root:") && !detail.contains("[package]"), "{path}: {v}");
        tried();
    }
    let long = format!("/assets/{}", "a".repeat(4000));
    raw_get(addr, &long, "").await.problem(404);
    tried();
    // Dashboard pages never read files: a traversal in a page path is still the shell.
    let r = raw_get(addr, "/device/..%2f..%2f..%2fetc%2fpasswd", "").await;
    assert_eq!(r.status, 200);
    assert!(!String::from_utf8_lossy(&r.body).contains("root:"));
    tried();
    // Assets are still served.
    assert_eq!(raw_get(addr, "/assets/app.js", "").await.status, 200);

    // Request smuggling and broken framing are refused by the HTTP layer (hyper answers 400
    // on its own, before any handler: not a problem document), and the server lives on.
    for req in [
        "POST /api/v1/discover HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /api/v1/discover HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        "POST /api/v1/discover HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
        "GET /api/v1/devices HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n",
        "GET /api/v1/devices HTTP/9.9\r\nHost: h\r\n\r\n",
        "GARBAGE\r\n\r\n",
    ] {
        let r = tokio::time::timeout(hostile_support::RAW_GUARD, async {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(req.as_bytes()).await.unwrap();
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf).await;
            buf
        })
        .await
        .expect("malformed request hung");
        let text = String::from_utf8_lossy(&r);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 4") || text.starts_with("HTTP/1.1 5"),
            "{req:?} → {text}"
        );
        assert!(!text.starts_with("HTTP/1.1 2"), "{req:?} was accepted");
        tried();
    }
    // Request head larger than hyper's buffer: refused, connection closed.
    let huge = format!("X-Big: {}\r\n", "b".repeat(512 * 1024));
    let r = tokio::time::timeout(hostile_support::RAW_GUARD, async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let req = format!("GET /api/v1/devices HTTP/1.1\r\nHost: {addr}\r\n{huge}\r\n");
        let _ = s.write_all(req.as_bytes()).await;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        buf
    })
    .await
    .expect("huge head hung");
    assert!(!String::from_utf8_lossy(&r).starts_with("HTTP/1.1 2"));
    tried();
    // Streamed (chunked) bodies over the limit: 413 problem.
    let over = "x".repeat(64 * 1024 + 16).into_bytes();
    for target in ["/api/v1/devices", "/api/v1/schedules", "/login"] {
        let stream = futures::stream::iter(
            over.chunks(4096).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
        );
        let ctype = if target == "/login" { "application/x-www-form-urlencoded" } else { "application/json" };
        let r = env
            .client
            .post(env.url(target))
            .header(header::CONTENT_TYPE, ctype)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .unwrap();
        problem(r, 413).await;
        tried();
    }
    assert_eq!(env.client.get(env.url("/api/v1/devices")).send().await.unwrap().status(), 200);
    env.stop().await;
    report("traversal_and_malformed_requests_on_the_wire");
}

/// The token of the token-protected hub of these tests.
const TOKEN: &str = "hostile-test-token-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_tokens_sessions_and_cross_site_requests() {
    let env = Env::start(Setup::empty(Security::with_token(TOKEN))).await;
    let c = &env.client;
    let wrong: Vec<String> = vec![
        String::new(),
        "Bearer".into(),
        "Bearer ".into(),
        format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]),
        format!("Bearer {TOKEN}x"),
        format!("Bearer {}", TOKEN.to_ascii_uppercase()),
        format!("Bearer x{TOKEN}"),
        format!("Basic {TOKEN}"),
        format!("Token {TOKEN}"),
        TOKEN.to_string(),
        format!("Bearer {}", "A".repeat(8000)),
        "Bearer \t".into(),
        "Bearer null".into(),
        "Bearer undefined".into(),
        format!("Bearer {TOKEN} {TOKEN}"),
    ];
    for (i, auth) in wrong.iter().enumerate() {
        for (m, path) in [("GET", "/api/v1/devices"), ("POST", "/api/v1/discover"), ("GET", "/metrics")] {
            let mut rb = c.request(m.parse().unwrap(), env.url(path));
            if i > 0 {
                rb = rb.header(header::AUTHORIZATION, auth.as_str());
            }
            let r = rb.send().await.unwrap();
            assert!(r.headers().contains_key(header::WWW_AUTHENTICATE), "{auth:.30}");
            let v = problem(r, 401).await;
            let text = v.to_string();
            assert!(!text.contains(TOKEN) && !text.contains("AAAAAAAA"), "the answer leaks: {text}");
            tried();
        }
    }
    // Non-ASCII bytes in the header (raw: clients refuse to send them).
    let r = raw(
        env.addr,
        format!(
            "GET /api/v1/devices HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer \u{e9}\u{1F600}{TOKEN}\r\nConnection: close\r\n\r\n",
            env.addr
        )
        .as_bytes(),
    )
    .await;
    r.problem(401);
    tried();
    // Two Authorization headers, one of them right: the first decides, and it is wrong.
    let r = raw(
        env.addr,
        format!(
            "GET /api/v1/devices HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer wrong\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n",
            env.addr
        )
        .as_bytes(),
    )
    .await;
    r.problem(401);
    tried();

    // Sessions: forged, and ended ones.
    for cookie in [
        format!("{SESSION_COOKIE}=00"),
        format!("{SESSION_COOKIE}={}", "f".repeat(64)),
        format!("{SESSION_COOKIE}={TOKEN}"),
        format!("{SESSION_COOKIE}="),
        format!("{SESSION_COOKIE}={}", "x".repeat(4000)),
    ] {
        let r = c.get(env.url("/api/v1/devices")).header(header::COOKIE, cookie).send().await.unwrap();
        problem(r, 401).await;
        tried();
    }
    let login = c
        .post(env.url("/login"))
        .header(header::ORIGIN, format!("http://{}", env.addr))
        .form(&[("token", TOKEN), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let set = login.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    let session = set.split(';').next().unwrap().to_string();
    let r = c.get(env.url("/api/v1/devices")).header(header::COOKIE, &session).send().await.unwrap();
    assert_eq!(r.status(), 200, "a fresh session works");

    // Cross-site requests with the session cookie: refused.
    let host = format!("http://{}", env.addr);
    let foreign: Vec<(&str, String)> = vec![
        ("origin", "https://evil.example".into()),
        ("origin", "null".into()),
        ("origin", format!("{host}.evil.example")),
        ("origin", format!("http://evil.example@{}", "x")),
        ("referer", "https://evil.example/page".into()),
        ("referer", format!("https://evil.example/{host}")),
    ];
    for (h, v) in &foreign {
        for (m, path) in [
            ("POST", "/api/v1/discover"),
            ("DELETE", "/api/v1/devices/kasa-X"),
            ("POST", "/api/v1/schedules"),
            ("POST", "/logout"),
        ] {
            let r = c
                .request(m.parse().unwrap(), env.url(path))
                .header(header::COOKIE, &session)
                .header(*h, v.as_str())
                .send()
                .await
                .unwrap();
            problem(r, 403).await;
            tried();
        }
    }
    // No Origin, no Referer, no X-Plugctl: a cookie alone cannot change anything.
    let r = c.post(env.url("/api/v1/discover")).header(header::COOKIE, &session).send().await.unwrap();
    problem(r, 403).await;
    tried();
    // A cross-site sign-in (login CSRF).
    let r = c
        .post(env.url("/login"))
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    problem(r, 403).await;
    tried();

    // CORS preflights from a foreign origin are never granted.
    for path in ["/api/v1/devices", "/api/v1/discover", "/api/v1/devices/kasa-X/on", "/login"] {
        for auth in [None, Some(format!("Bearer {TOKEN}"))] {
            let mut rb = c
                .request(Method::OPTIONS, env.url(path))
                .header(header::ORIGIN, "https://evil.example")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization, x-plugctl, content-type");
            if let Some(a) = &auth {
                rb = rb.header(header::AUTHORIZATION, a);
            }
            let r = rb.send().await.unwrap();
            assert!(r.status().is_client_error(), "{path}: preflight answered {}", r.status());
            for h in r.headers().keys() {
                assert!(!h.as_str().starts_with("access-control-"), "{path}: preflight granted ({h})");
            }
            tried();
        }
    }
    // Logging out ends the session for good ("expired").
    let r = c
        .post(env.url("/logout"))
        .header(header::COOKIE, &session)
        .header("x-plugctl", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = c.get(env.url("/api/v1/devices")).header(header::COOKIE, &session).send().await.unwrap();
    problem(r, 401).await;
    tried();
    env.stop().await;
    report("invalid_tokens_sessions_and_cross_site_requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_hub_refuses_other_sites_and_rebinding() {
    let env = Env::start(Setup::empty(Security::open())).await;
    for host in [
        "evil.example",
        "evil.example:80",
        "127.0.0.1.evil.example",
        "localhost.evil.example:1",
        "[::2]:8080",
        "10.0.0.1",
    ] {
        let r = raw_get(env.addr, "/api/v1/devices", "").await;
        assert_eq!(r.status, 200);
        let req = format!("GET /api/v1/devices HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        raw(env.addr, req.as_bytes()).await.problem(403);
        tried();
    }
    for (h, v) in
        [("origin", "https://evil.example"), ("origin", "null"), ("referer", "http://evil.example/")]
    {
        let r = env.client.post(env.url("/api/v1/discover")).header(h, v).send().await.unwrap();
        problem(r, 403).await;
        tried();
    }
    let r = env
        .client
        .request(Method::OPTIONS, env.url("/api/v1/discover"))
        .header(header::ORIGIN, "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert!(!r.headers().keys().any(|h| h.as_str().starts_with("access-control-")));
    problem(r, 405).await;
    tried();
    env.stop().await;
    report("open_hub_refuses_other_sites_and_rebinding");
}

/// A hub with short limits for slow clients.
struct SlowEnv {
    addr: SocketAddr,
    hub: Hub,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    dir: tempfile::TempDir,
}

const SHORT: Limits =
    Limits { header_timeout: Duration::from_millis(800), body_timeout: Duration::from_millis(800) };

async fn slow_env() -> SlowEnv {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = HubConfig::default();
    config.discovery.enabled = false;
    let hub = Hub::start(config, StartOptions { config_path: None, db_path: dir.path().join("hub.db") })
        .await
        .expect("hub");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve_with_limits(
        listener,
        hub.clone(),
        Security::open(),
        ApiOptions::default(),
        SHORT,
        async {
            let _ = rx.await;
        },
    ));
    SlowEnv { addr, hub, stop, server, dir }
}

/// Reads until the server closes the connection; what it sent.
async fn until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(hostile_support::RAW_GUARD, s.read_to_end(&mut buf))
        .await
        .expect("never closed");
    buf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_others_still_served() {
    let env = slow_env().await;
    let addr = env.addr;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let url = format!("http://{addr}/api/v1/devices");

    // Many connections that never send a byte, and many sending half a head.
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut half = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET /api/v1/devices HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ").as_bytes())
            .await
            .unwrap();
        half.push(s);
    }
    // One trickling its head a byte at a time, forever.
    let trickle_head = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!("GET /api/v1/devices HTTP/1.1\r\nHost: {addr}\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        let mut sent = 0usize;
        loop {
            if s.write_all(b"X").await.is_err() {
                return sent;
            }
            sent += 1;
            // The server closed: a read sees EOF (or a reset).
            let mut b = [0u8; 64];
            match tokio::time::timeout(Duration::from_millis(100), s.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return sent,
                Ok(Ok(_)) => panic!("the server answered a half-sent head"),
                Err(_) => {}
            }
            assert!(sent < 300, "a trickled head was never cut off (30 s)");
        }
    });
    // One trickling its body.
    let trickle_body = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /api/v1/schedules HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        for _ in 0..300 {
            if s.write_all(b" ").await.is_err() {
                break;
            }
            let mut b = [0u8; 4096];
            match tokio::time::timeout(Duration::from_millis(100), s.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => got.extend_from_slice(&b[..n]),
                Err(_) => {}
            }
            if hostile_support::parse_response(&got).is_some() {
                break;
            }
        }
        let rest = until_closed(&mut s).await;
        got.extend_from_slice(&rest);
        got
    });
    // Meanwhile, normal requests are served.
    for _ in 0..20 {
        let r = client.get(&url).send().await.expect("a normal request during the attack");
        assert_eq!(r.status(), 200);
    }
    // The slow ones are cut off.
    for mut s in idle.into_iter().chain(half) {
        let got = until_closed(&mut s).await;
        assert!(!String::from_utf8_lossy(&got).starts_with("HTTP/1.1 2"));
        tried();
    }
    let sent = trickle_head.await.unwrap();
    assert!(sent > 0);
    tried();
    let got = trickle_body.await.unwrap();
    let r = hostile_support::parse_response(&got).expect("an answer to the trickled body");
    let v = r.problem(408);
    assert!(v["detail"].as_str().unwrap().contains("did not arrive"), "{v}");
    assert_eq!(r.headers.get("connection").map(String::as_str), Some("close"));
    tried();
    // A kept-alive connection left idle after a request is closed too.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET /api/v1/devices HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let got = until_closed(&mut s).await;
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    tried();
    // And the server is as good as new.
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    let _ = env.stop.send(());
    tokio::time::timeout(Duration::from_secs(60), env.server).await.expect("server stops").unwrap().unwrap();
    env.hub.shutdown().await;
    drop(env.dir);
    report("slow_clients_are_cut_off_and_others_still_served");
}
