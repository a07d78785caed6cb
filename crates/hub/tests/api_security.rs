//! The server's security: bearer token, dashboard sign-in with a session cookie, cross-site
//! request protection, DNS-rebinding protection when open on loopback, and no secret in logs.
//!
//! A hub bound to a non-loopback address requires a token; tests never bind one, so they
//! build the `Security` such a bind gets and exercise it on 127.0.0.1.

mod api_support;

use std::{
    io::Write,
    sync::{Arc, Mutex, OnceLock},
};

use api_support::{problem, Env, Setup};
use plugctl_hub::{
    api::Security,
    auth::{self, SESSION_COOKIE},
};
use reqwest::header;

/// Everything logged by this test binary, at every level.
fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Writer(w.clone()))
            .try_init();
        buf
    })
    .clone()
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl Write for Writer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// What a non-loopback bind without `--token` gets: a generated token.
fn non_loopback_security() -> (Security, String) {
    let security = Security::for_bind("0.0.0.0:8080".parse().unwrap(), None);
    let token = security.generated_token().expect("a token is generated for a non-loopback bind").to_string();
    assert_eq!(security.token.as_deref(), Some(token.as_str()));
    (security, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_token_everything_but_login_is_401() {
    log_buffer();
    let (security, token) = non_loopback_security();
    let env = Env::start(Setup::empty(security)).await;
    let c = &env.client;

    for path in ["/api/v1/devices", "/api/v1/openapi.json", "/api/v1/events", "/metrics", "/api/v1/nope"] {
        let r = c.get(env.url(path)).send().await.unwrap();
        assert!(r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Bearer"));
        problem(r, 401).await;
        let r = c.get(env.url(path)).bearer_auth("wrong-token-wrong-token").send().await.unwrap();
        problem(r, 401).await;
        let r = c
            .get(env.url(path))
            .header(header::AUTHORIZATION, format!("Basic {token}"))
            .send()
            .await
            .unwrap();
        problem(r, 401).await;
    }
    problem(c.post(env.url("/api/v1/discover")).send().await.unwrap(), 401).await;
    problem(c.post(env.url("/api/v1/devices/x/on")).send().await.unwrap(), 401).await;

    // With the bearer token.
    let r = c.get(env.url("/api/v1/devices")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(env.url("/metrics")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Bearer requests are not browser requests: no cross-site check applies.
    let r = c
        .post(env.url("/api/v1/devices/kasa-NOPE/on"))
        .bearer_auth(&token)
        .header(header::ORIGIN, "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    problem(r, 404).await;

    // Dashboard pages send the browser to the sign-in form.
    let r = c.get(env.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[header::LOCATION], "/login?next=/");
    let r = c.get(env.url("/device/kasa-1?x=1")).send().await.unwrap();
    assert_eq!(r.headers()[header::LOCATION], "/login?next=/device/kasa-1%3Fx%3D1");
    let r = c.get(env.url("/login?next=/device/kasa-1")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("name=\"token\"") && html.contains("value=\"/device/kasa-1\""), "{html}");
    env.stop().await;
    assert!(!logs().contains(&token), "the token was logged");
}

fn session_of(r: &reqwest::Response) -> String {
    let cookie = r.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.split("; ").any(|a| a == attr), "{attr} missing from {cookie}");
    }
    let (pair, _) = cookie.split_once(';').unwrap();
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(name, SESSION_COOKIE);
    value.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_cookie_and_cross_site_protection() {
    log_buffer();
    let (security, token) = non_loopback_security();
    let env = Env::start(Setup::empty(security)).await;
    let c = &env.client;
    let origin = format!("http://{}", env.addr);

    // A wrong token: the form again, no cookie.
    let r = c
        .post(env.url("/login"))
        .form(&[("token", "not-the-token-at-all"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get(header::SET_COOKIE).is_none());
    assert!(r.text().await.unwrap().contains("Wrong token"));
    // A login posted from another site is refused.
    let r = c
        .post(env.url("/login"))
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    problem(r, 403).await;

    // The right token: a session cookie (not the token) and a redirect to a local `next` only.
    let r = c
        .post(env.url("/login"))
        .header(header::ORIGIN, &origin)
        .form(&[("token", token.as_str()), ("next", "/schedules")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[header::LOCATION], "/schedules");
    let session = session_of(&r);
    assert_ne!(session, token);
    assert!(!session.contains(&token) && session.len() >= 32);
    let r = c
        .post(env.url("/login"))
        .form(&[("token", token.as_str()), ("next", "//evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[header::LOCATION], "/");
    let cookie = format!("{SESSION_COOKIE}={session}");

    // Reads with the cookie.
    let r = c.get(env.url("/api/v1/devices")).header(header::COOKIE, &cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(env.url("/")).header(header::COOKIE, &cookie).send().await.unwrap();
    assert_eq!(r.status(), 200, "the dashboard is served to a signed-in browser");
    // A forged cookie is nobody.
    let r = c
        .get(env.url("/api/v1/devices"))
        .header(header::COOKIE, format!("{SESSION_COOKIE}={token}"))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;

    // State-changing requests by cookie: same origin or the dashboard's header, never another site.
    let post = |origin: Option<&str>, referer: Option<&str>, custom: bool| {
        let mut b = c.post(env.url("/api/v1/devices/kasa-NOPE/toggle")).header(header::COOKIE, &cookie);
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        if let Some(r) = referer {
            b = b.header(header::REFERER, r);
        }
        if custom {
            b = b.header(auth::CSRF_HEADER, "1");
        }
        b.send()
    };
    let p = problem(post(Some("https://evil.example"), None, false).await.unwrap(), 403).await;
    assert!(p["detail"].as_str().unwrap().contains("Origin"), "{p}");
    problem(post(Some("null"), None, false).await.unwrap(), 403).await;
    problem(post(None, Some("https://evil.example/page"), false).await.unwrap(), 403).await;
    problem(post(None, None, false).await.unwrap(), 403).await;
    // Passing the guard reaches the handler: 404 for this unknown device.
    problem(post(Some(&origin), None, false).await.unwrap(), 404).await;
    problem(post(None, Some(&format!("{origin}/device/x")), false).await.unwrap(), 404).await;
    problem(post(None, None, true).await.unwrap(), 404).await;
    let r = c
        .delete(env.url("/api/v1/schedules/none"))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    problem(r, 403).await;

    // Sign out: the session is gone server-side.
    let r = c
        .post(env.url("/logout"))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, &origin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let r = c.get(env.url("/api/v1/devices")).header(header::COOKIE, &cookie).send().await.unwrap();
    problem(r, 401).await;
    env.stop().await;
    let logs = logs();
    assert!(logs.contains("dashboard sign-in"), "the log is captured");
    assert!(!logs.contains(&token), "the token was logged");
    assert!(!logs.contains(&session), "the session id was logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_on_loopback_but_not_to_other_sites() {
    let env = Env::start(Setup::empty(Security::open())).await;
    let c = &env.client;
    let r = c.get(env.url("/api/v1/devices")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(env.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // `/login` has nothing to do.
    let r = c.get(env.url("/login?next=/events")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[header::LOCATION], "/events");
    // A command-line client (no Origin) may change state.
    problem(c.post(env.url("/api/v1/devices/kasa-NOPE/on")).send().await.unwrap(), 404).await;
    // A page on another site may not.
    let r = c
        .post(env.url("/api/v1/devices/kasa-NOPE/on"))
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    problem(r, 403).await;
    let r = c
        .post(env.url("/api/v1/devices/kasa-NOPE/on"))
        .header(header::ORIGIN, format!("http://{}", env.addr))
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    // DNS rebinding: a foreign name pointing at 127.0.0.1 is refused.
    let r =
        c.get(env.url("/api/v1/devices")).header(header::HOST, "rebind.evil.example").send().await.unwrap();
    problem(r, 403).await;
    let r = c
        .get(env.url("/api/v1/devices"))
        .header(header::HOST, format!("localhost:{}", env.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    env.stop().await;
}

#[test]
fn token_helpers() {
    use plugctl_hub::api::{generate_token, token_required};
    assert!(token_required("0.0.0.0".parse().unwrap()));
    assert!(token_required("192.0.2.7".parse().unwrap()));
    assert!(!token_required("127.0.0.1".parse().unwrap()));
    assert!(!token_required("::1".parse().unwrap()));
    let lo = "127.0.0.1:8080".parse().unwrap();
    let any = "0.0.0.0:8080".parse().unwrap();
    let s = Security::for_bind(lo, None);
    assert!(s.token.is_none() && s.generated_token().is_none(), "loopback without a token stays open");
    let s = Security::for_bind(lo, Some("my-own-long-token".into()));
    assert_eq!((s.token.as_deref(), s.generated_token()), (Some("my-own-long-token"), None));
    assert!(Security::open().check_for(any).is_err(), "a non-loopback bind needs a token");
    assert!(
        Security::with_token("short").check_for(any).is_err(),
        "a non-loopback bind needs a strong token"
    );
    assert_ne!(generate_token(), generate_token());
}

#[tokio::test]
async fn the_server_refuses_settings_unfit_for_its_address() {
    // Only loopback is bound here: a short token is fine on it, an empty one is not.
    let env = Env::start(Setup::empty(Security::with_token("short"))).await;
    let r = env.client.get(env.url("/api/v1/devices")).bearer_auth("short").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = plugctl_hub::api::serve(listener, env.hub.clone(), Security::with_token("")).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    env.stop().await;
}
