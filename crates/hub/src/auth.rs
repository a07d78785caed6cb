//! Who may use the hub's HTTP server.
//!
//! - **Loopback bind, no token**: open, as any local tool. Two browser attacks are still
//!   blocked: DNS rebinding (the `Host` header must be a loopback name) and cross-site
//!   requests (state-changing requests must not come from a foreign `Origin`/`Referer`).
//! - **With a token** (required for any non-loopback bind; [`Security::for_bind`] generates one
//!   with the OS CSPRNG when none is given): the API and `/metrics` take
//!   `Authorization: Bearer <token>` (compared in constant time); the dashboard signs in at
//!   `/login` with the token and gets a random session id in an `HttpOnly; SameSite=Strict`
//!   cookie (the token itself never goes into a cookie). State-changing requests
//!   authenticated by cookie must carry `X-Plugctl: 1` or an `Origin`/`Referer` matching
//!   `Host`, else 403.
//!
//! Tokens, session ids and cookies are never logged.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Router,
};
use rand::RngCore;
use serde::Deserialize;

use crate::api::problem::{ApiForm, Problem};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "plugctl_session";

/// The header the dashboard sends on state-changing requests (a cross-site form cannot set
/// it, and a cross-site script cannot without a CORS preflight the hub never approves).
pub const CSRF_HEADER: &str = "x-plugctl";

/// How long a dashboard session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Most sessions kept at once (the oldest is dropped beyond).
const MAX_SESSIONS: usize = 1024;

/// Shortest token accepted from the user.
pub const MIN_TOKEN_LEN: usize = 16;

/// The server's security settings.
#[derive(Clone, Default)]
pub struct Security {
    /// The access token; `None` = open (only allowed on a loopback bind).
    pub token: Option<String>,
    /// Whether [`Security::for_bind`] generated the token (the CLI prints it once).
    pub generated: bool,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("generated", &self.generated)
            .finish()
    }
}

/// A token that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidToken(pub String);

impl Security {
    /// No token: open (loopback only).
    pub fn open() -> Self {
        Self { token: None, generated: false }
    }

    /// With a token.
    pub fn with_token(token: impl Into<String>) -> Self {
        Self { token: Some(token.into()), generated: false }
    }

    /// What a server bound to `addr` uses: the given token, else one generated with the OS
    /// CSPRNG if the address is not loopback ([`generated_token`](Self::generated_token)
    /// tells, for the CLI to print it once), else open. The server checks the token when it
    /// starts ([`Security::check_for`]).
    pub fn for_bind(addr: SocketAddr, token: Option<String>) -> Security {
        match token {
            Some(t) => Security::with_token(t),
            None if token_required(addr.ip()) => Security { token: Some(generate_token()), generated: true },
            None => Security::open(),
        }
    }

    /// The token, if [`Security::for_bind`] generated it.
    pub fn generated_token(&self) -> Option<&str> {
        self.token.as_deref().filter(|_| self.generated)
    }

    /// Whether these settings may serve `addr`: a non-loopback address needs a token of at
    /// least [`MIN_TOKEN_LEN`] visible ASCII characters; any token must be non-empty visible
    /// ASCII.
    pub fn check_for(&self, addr: SocketAddr) -> Result<(), InvalidToken> {
        match &self.token {
            None if token_required(addr.ip()) => Err(InvalidToken(format!(
                "{addr} is not a loopback address: serving on it requires an access token"
            ))),
            None => Ok(()),
            Some(t) if token_required(addr.ip()) => validate_token(t),
            Some(t) if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) => {
                Err(InvalidToken("the token must be visible ASCII characters (no spaces)".into()))
            }
            Some(_) => Ok(()),
        }
    }
}

/// Whether a server bound to `addr` must require a token (any non-loopback address,
/// including the unspecified `0.0.0.0` / `::`).
pub fn token_required(addr: IpAddr) -> bool {
    let loopback = match addr {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    };
    !loopback
}

/// A new random token: 32 bytes from the OS CSPRNG, hex-encoded.
pub fn generate_token() -> String {
    random_hex(32)
}

/// Checks a user-chosen token: at least [`MIN_TOKEN_LEN`] visible ASCII characters.
pub fn validate_token(t: &str) -> Result<(), InvalidToken> {
    if t.len() < MIN_TOKEN_LEN {
        return Err(InvalidToken(format!("the token must be at least {MIN_TOKEN_LEN} characters long")));
    }
    if !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InvalidToken("the token may only contain visible ASCII characters (no spaces)".into()));
    }
    Ok(())
}

fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    diff == 0
}

/// The server-side authentication state.
pub(crate) struct Auth {
    token: Option<String>,
    sessions: Mutex<HashMap<String, Instant>>,
}

impl Auth {
    pub(crate) fn new(security: Security) -> Self {
        Self { token: security.token, sessions: Mutex::new(HashMap::new()) }
    }

    fn is_open(&self) -> bool {
        self.token.is_none()
    }

    fn token_matches(&self, given: &str) -> bool {
        self.token.as_deref().is_some_and(|t| constant_time_eq(t.as_bytes(), given.as_bytes()))
    }

    fn new_session(&self) -> String {
        let id = random_hex(32);
        let now = Instant::now();
        let mut s = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        s.retain(|_, exp| *exp > now);
        if s.len() >= MAX_SESSIONS {
            if let Some(oldest) = s.iter().min_by_key(|(_, exp)| **exp).map(|(k, _)| k.clone()) {
                s.remove(&oldest);
            }
        }
        s.insert(id.clone(), now + SESSION_TTL);
        id
    }

    fn session_valid(&self, id: &str) -> bool {
        let s = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        s.get(id).is_some_and(|exp| *exp > Instant::now())
    }

    fn end_session(&self, id: &str) {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }
}

/// The session id from the request's cookies, if any.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim().to_string())
}

fn host_of(headers: &HeaderMap) -> Option<String> {
    headers.get(header::HOST).and_then(|v| v.to_str().ok()).map(|h| h.trim().to_ascii_lowercase())
}

/// `scheme://authority[/…]` → `authority`.
fn authority_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let auth = &rest[..end];
    // Drop any userinfo.
    let auth = auth.rsplit_once('@').map_or(auth, |(_, a)| a);
    (!auth.is_empty()).then(|| auth.to_ascii_lowercase())
}

/// The outcome of the cross-site check of a state-changing request.
#[derive(Debug, PartialEq, Eq)]
enum SiteCheck {
    /// Same site (or the custom header).
    Same,
    /// From another site.
    Foreign(String),
    /// No header tells (a non-browser client).
    Unknown,
}

fn site_check(headers: &HeaderMap) -> SiteCheck {
    if headers.contains_key(CSRF_HEADER) {
        return SiteCheck::Same;
    }
    let host = host_of(headers);
    let check = |what: &str, value: &str| -> SiteCheck {
        match (authority_of(value), &host) {
            (Some(a), Some(h)) if &a == h => SiteCheck::Same,
            _ => SiteCheck::Foreign(format!("the request's {what} does not match the Host header")),
        }
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        return check("Origin", origin.to_str().unwrap_or("null"));
    }
    if let Some(referer) = headers.get(header::REFERER) {
        return check("Referer", referer.to_str().unwrap_or(""));
    }
    SiteCheck::Unknown
}

fn is_state_changing(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// A Host header naming this machine by a loopback name (`localhost`, `127.x.y.z`, `[::1]`),
/// with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':')
            .map_or(host, |(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) { h } else { host })
    };
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<IpAddr>().is_ok_and(|a| !token_required(a))
}

fn forbidden(detail: impl Into<String>) -> Response {
    Problem::new(StatusCode::FORBIDDEN, detail)
        .typed("urn:plugctl:problem:cross-site-request", "Cross-site request refused")
        .into_response()
}

fn unauthorized(detail: &str) -> Response {
    Problem::new(StatusCode::UNAUTHORIZED, detail)
        .header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"plugctl\""))
        .into_response()
}

/// Whether a path belongs to the machine interfaces (answer 401, never a redirect).
fn is_machine_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/metrics"
}

/// The middleware in front of every route.
pub(crate) async fn guard(State(auth): State<Arc<Auth>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let changing = is_state_changing(&method);

    if auth.is_open() {
        if let Some(host) = host_of(headers) {
            if !is_loopback_host(&host) {
                return forbidden(
                    "the hub runs without a token, so it only answers requests addressed to a loopback name \
                     (localhost, 127.0.0.1, [::1])",
                );
            }
        }
        if changing {
            if let SiteCheck::Foreign(why) = site_check(headers) {
                return forbidden(why);
            }
        }
        return next.run(req).await;
    }

    if path == "/login" || path == "/logout" {
        if changing {
            if let SiteCheck::Foreign(why) = site_check(headers) {
                return forbidden(why);
            }
        }
        return next.run(req).await;
    }

    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let given = value.to_str().ok().and_then(|v| {
            let (scheme, cred) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| cred.trim())
        });
        return match given {
            Some(t) if auth.token_matches(t) => next.run(req).await,
            Some(_) => unauthorized("the bearer token is not valid"),
            None => unauthorized("expected `Authorization: Bearer <token>`"),
        };
    }

    if let Some(id) = session_cookie(headers) {
        if auth.session_valid(&id) {
            if changing && site_check(headers) != SiteCheck::Same {
                return forbidden(
                    "state-changing requests signed in by cookie must come from the dashboard \
                     (same Origin, or the X-Plugctl header)",
                );
            }
            return next.run(req).await;
        }
    }

    if !is_machine_path(&path) && matches!(method, Method::GET | Method::HEAD) {
        let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        return Redirect::to(&format!("/login?next={}", url_encode(target))).into_response();
    }
    unauthorized("authentication required: send `Authorization: Bearer <token>`, or sign in at /login")
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A local path to go to after signing in (anything else → `/`).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 2048
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The routes of the sign-in flow (`/login`, `/logout`).
pub(crate) fn routes() -> Router<Arc<Auth>> {
    Router::new().route("/login", get(login_page).post(login)).route("/logout", axum::routing::post(logout))
}

/// The login routes as documented (method, path), for the route table.
pub(crate) const ROUTES: &[(&str, &str)] = &[("get", "/login"), ("post", "/login"), ("post", "/logout")];

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn page(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let error =
        error.map(|e| format!("<p class=\"err\" role=\"alert\">{}</p>", html_escape(e))).unwrap_or_default();
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>plugctl — sign in</title>
<style>
body{{font-family:system-ui,sans-serif;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0;background:#f4f5f7;color:#222}}
form{{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.15);min-width:18rem}}
h1{{font-size:1.3rem;margin-top:0}} label{{display:block;margin-bottom:.4rem}}
input[type=password]{{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}}
button{{margin-top:1rem;padding:.5rem 1.2rem;font:inherit}} .err{{color:#b00020}}
</style></head>
<body><form method="post" action="/login">
<h1>plugctl hub</h1>{error}
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{next}">
<button type="submit">Sign in</button>
</form></body></html>
"#,
        next = html_escape(next),
    );
    let mut resp = (status, Html(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn login_page(
    State(auth): State<Arc<Auth>>,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if auth.is_open() {
        return Redirect::to(&next).into_response();
    }
    page(StatusCode::OK, &next, None)
}

/// The sign-in form: exactly what the page sends (anything else is refused, 422).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: Option<String>,
}

async fn login(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    ApiForm(form): ApiForm<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    if auth.is_open() {
        return Redirect::to(&next).into_response();
    }
    if !auth.token_matches(&form.token) {
        tracing::info!("dashboard sign-in refused: wrong token");
        return page(StatusCode::UNAUTHORIZED, &next, Some("Wrong token."));
    }
    let id = auth.new_session();
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        SESSION_TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    tracing::info!("dashboard sign-in");
    let mut resp = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn logout(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> Response {
    if let Some(id) = session_cookie(&headers) {
        auth.end_session(&id);
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("plugctl_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_required_for_non_loopback() {
        assert!(!token_required("127.0.0.1".parse().unwrap()));
        assert!(!token_required("127.9.8.7".parse().unwrap()));
        assert!(!token_required("::1".parse().unwrap()));
        assert!(!token_required("::ffff:127.0.0.1".parse().unwrap()));
        assert!(token_required("0.0.0.0".parse().unwrap()));
        assert!(token_required("::".parse().unwrap()));
        assert!(token_required("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn for_bind_generates_only_when_needed() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let s = Security::for_bind(lo, None);
        assert!(s.token.is_none() && s.generated_token().is_none());
        assert!(s.check_for(lo).is_ok() && s.check_for(any).is_err());
        let s = Security::for_bind(any, None);
        let g = s.generated_token().unwrap();
        assert_eq!(s.token.as_deref(), Some(g));
        assert_eq!(g.len(), 64);
        assert_ne!(g, generate_token());
        assert!(s.check_for(any).is_ok());
        let s = Security::for_bind(any, Some("a-long-enough-token".into()));
        assert!(s.generated_token().is_none() && s.token.is_some() && s.check_for(any).is_ok());
        assert!(!format!("{s:?}").contains("a-long-enough-token"));
        assert!(Security::for_bind(any, Some("short".into())).check_for(any).is_err());
        assert!(Security::for_bind(any, Some("has a space in it!".into())).check_for(any).is_err());
        assert!(Security::for_bind(lo, Some("short".into())).check_for(lo).is_ok());
        assert!(Security::for_bind(lo, Some(String::new())).check_for(lo).is_err());
    }

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn hosts_and_origins() {
        assert!(is_loopback_host("localhost:8080"));
        assert!(is_loopback_host("127.0.0.1:8080"));
        assert!(is_loopback_host("[::1]:8080"));
        assert!(is_loopback_host("127.0.0.1"));
        assert!(!is_loopback_host("evil.example:8080"));
        assert!(!is_loopback_host("192.0.2.1"));
        assert_eq!(authority_of("http://127.0.0.1:8080/x?y").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(authority_of("http://u:p@Host:1").as_deref(), Some("host:1"));
        assert_eq!(authority_of("null"), None);
    }

    #[test]
    fn site_checks() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(site_check(&h), SiteCheck::Unknown);
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert_eq!(site_check(&h), SiteCheck::Same);
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(matches!(site_check(&h), SiteCheck::Foreign(_)));
        h.insert(CSRF_HEADER, HeaderValue::from_static("1"));
        assert_eq!(site_check(&h), SiteCheck::Same);
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("hub:8080"));
        h.insert(header::REFERER, HeaderValue::from_static("http://other:8080/page"));
        assert!(matches!(site_check(&h), SiteCheck::Foreign(_)));
    }

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next(Some("/devices?x=1")), "/devices?x=1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_parse() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; plugctl_session=abc123 ; c=d"));
        assert_eq!(session_cookie(&h).as_deref(), Some("abc123"));
    }
}
