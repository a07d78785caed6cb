//! The web dashboard: one HTML shell and a few static assets, embedded in the binary.
//!
//! There is no JavaScript build step: `assets/*.js` are plain ES2020 modules the browser loads
//! as they are. The pages hold no data; they read everything from the JSON API (`/api/v1/…`)
//! with `fetch` and follow live changes over Server-Sent Events
//! (`EventSource('/api/v1/events/stream')`), so the pages themselves need no session and no
//! state: [`routes`] works inside a router of any state type.
//!
//! Pages (all the same shell; `assets/app.js` picks the view from the path):
//! - `/`: the device list (live state, toggles, power now, energy today and this month);
//! - `/device/{id}`: one device: power and energy charts (SVG), its schedules, its events;
//! - `/schedules`: every local schedule, with a form to add one;
//! - `/events`: the event log.
//!
//! What the pages call (see [`crate::api`]):
//! - `GET /api/v1/devices`, `GET /api/v1/devices/{id}`: `DeviceView` JSON;
//! - `POST /api/v1/devices/{id}/switch` `{"action":"on"|"off","outlet":N?}`: the `DeviceView`
//!   read back from the device (the button shows that, never a guess);
//! - `GET /api/v1/devices/{id}/energy?from=&to=&bucket=`: the series (`points`, power and
//!   energy charts) and `totals` (today's and this month's kWh on the cards);
//! - `GET /api/v1/events?device=&before=&limit=`: the event log, paged by `next_before`;
//! - `GET /api/v1/events/stream`: SSE, one `HubEvent` JSON per message (`state_changed`,
//!   `sample`, `online`, `offline`, `device_*`; `lagged` makes the page reload its state);
//! - `GET|POST /api/v1/schedules`, `PUT|DELETE /api/v1/schedules/{id}`: local schedule rules
//!   (the scheduler's JSON: `when` is `{"cron"}`, `{"sunrise"}` or `{"sunset"}`).
//!
//! State-changing requests carry `X-Plugctl: 1` (the API's CSRF guard) and the session cookie;
//! a `401` sends the browser to `/login?next=…`.

use std::sync::OnceLock;

use axum::{
    extract::Path,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

/// The HTML shell every page uses.
const INDEX_HTML: &str = include_str!("../../assets/index.html");

/// Static assets: name, content type, body.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../assets/app.js")),
    ("charts.js", "text/javascript; charset=utf-8", include_str!("../../assets/charts.js")),
    ("app.css", "text/css; charset=utf-8", include_str!("../../assets/app.css")),
    ("icon.svg", "image/svg+xml", include_str!("../../assets/icon.svg")),
];

/// The Content-Security-Policy of the pages: everything from this origin, nothing inline.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
                   form-action 'self'";

/// The dashboard's routes: `GET /`, `/device/{id}`, `/schedules`, `/events` and
/// `/assets/{file}`. Stateless, so it merges into a router of any state type:
/// `api_router.merge(plugctl_hub::web::routes())`.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/", get(page))
        .route("/device/{id}", get(page))
        .route("/schedules", get(page))
        .route("/events", get(page))
        .route("/assets/{file}", get(asset))
}

/// The names of the embedded assets (for tests and diagnostics).
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(name, _, _)| *name)
}

/// A strong validator for an embedded body (FNV-1a, 64 bits: the bodies are compile-time
/// constants, so this only has to tell builds apart).
fn etag_of(body: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

/// ETags of the shell and of every asset, computed once.
fn etags() -> &'static Vec<String> {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        std::iter::once(INDEX_HTML).chain(ASSETS.iter().map(|(_, _, body)| *body)).map(etag_of).collect()
    })
}

/// Answers with `body`, or `304 Not Modified` when the browser already has it. `no-cache`
/// makes browsers revalidate every time, so a new build is picked up at once.
fn respond(headers: &HeaderMap, content_type: &'static str, body: &'static str, etag: &str) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { body.into_response() };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    res
}

/// Every page: the same shell.
async fn page(headers: HeaderMap) -> Response {
    let mut res = respond(&headers, "text/html; charset=utf-8", INDEX_HTML, &etags()[0]);
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// `/assets/{file}`.
async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().position(|(name, _, _)| *name == file) {
        Some(i) => {
            let (_, content_type, body) = ASSETS[i];
            respond(&headers, content_type, body, &etags()[i + 1])
        }
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::Request};
    use tower::ServiceExt;

    use super::*;

    async fn get(uri: &str, etag: Option<&str>) -> Response {
        let mut req = Request::get(uri);
        if let Some(t) = etag {
            req = req.header(header::IF_NONE_MATCH, t);
        }
        routes::<()>().oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    async fn text(res: Response) -> String {
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn every_page_is_the_shell_with_a_strict_csp() {
        for uri in ["/", "/device/kasa-ABC", "/schedules", "/events"] {
            let res = get(uri, None).await;
            assert_eq!(res.status(), StatusCode::OK, "{uri}");
            assert_eq!(res.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
            let csp = res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
            assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe"), "{csp}");
            let body = text(res).await;
            assert!(body.contains(r#"<script type="module" src="/assets/app.js">"#), "{body}");
            assert!(body.contains(r#"name="viewport""#));
        }
    }

    #[tokio::test]
    async fn assets_have_types_and_revalidate_with_etags() {
        for (name, ty) in [
            ("app.js", "text/javascript; charset=utf-8"),
            ("charts.js", "text/javascript; charset=utf-8"),
            ("app.css", "text/css; charset=utf-8"),
            ("icon.svg", "image/svg+xml"),
        ] {
            let res = get(&format!("/assets/{name}"), None).await;
            assert_eq!(res.status(), StatusCode::OK, "{name}");
            assert_eq!(res.headers()[header::CONTENT_TYPE], ty);
            assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
            let etag = res.headers()[header::ETAG].to_str().unwrap().to_string();
            assert!(!text(res).await.is_empty());
            let again = get(&format!("/assets/{name}"), Some(&etag)).await;
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{name}");
            assert!(text(again).await.is_empty());
        }
        assert_eq!(asset_names().count(), ASSETS.len());
    }

    #[tokio::test]
    async fn unknown_assets_are_404_and_paths_do_not_escape() {
        for uri in ["/assets/nope.js", "/assets/..%2FCargo.toml", "/assets/index.html"] {
            assert_eq!(get(uri, None).await.status(), StatusCode::NOT_FOUND, "{uri}");
        }
    }

    #[test]
    fn scripts_use_no_framework_cdn_or_inline_html_from_data() {
        for (name, _, body) in ASSETS {
            // The SVG namespace is a name, not a download.
            let body = body.replace("http://www.w3.org/2000/svg", "");
            assert!(
                !body.contains("http://") && !body.contains("https://"),
                "{name} must not load from the network"
            );
            assert!(!body.contains("innerHTML"), "{name}: build DOM with textContent, never innerHTML");
        }
        assert!(!INDEX_HTML.contains("https://"));
    }
}
