//! The hub's HTTP server: the JSON API under `/api/v1`, `/metrics`, the sign-in flow, and the
//! dashboard pages (mounted from [`crate::web`]).
//!
//! ```text
//! GET    /api/v1/devices                     every device (DeviceView[])
//! POST   /api/v1/devices                     add one (body: config::DeviceEntry) → 201
//! GET    /api/v1/devices/{id}                one device
//! PATCH  /api/v1/devices/{id}                change name/room/tags/interval/cloud_free (DevicePatch)
//! DELETE /api/v1/devices/{id}                forget it → 204
//! POST   /api/v1/devices/{id}/on|off|toggle  switch (?outlet=N); answers the state read back
//! POST   /api/v1/devices/{id}/switch         the same with a body {"action":…,"outlet":N?}
//! GET    /api/v1/devices/{id}/energy         ?from=&to=&bucket=raw|minute|hour|day|month: the
//!                                            series, its sum, today's and this month's kWh
//! GET    /api/v1/devices/{id}/history        the same (the dashboard's name for it)
//! GET    /api/v1/events                      ?device=&before=&limit=
//! GET    /api/v1/events/stream               server-sent events (HubEvent JSON), ?device=&types=
//! GET    /api/v1/schedules                   local schedule rules
//! POST   /api/v1/schedules                   add one → 201
//! GET|PUT|DELETE /api/v1/schedules/{id}
//! POST   /api/v1/discover                    run discovery now
//! POST   /api/v1/reload                      re-read the configuration file → 204
//! GET    /api/v1/openapi.json                the OpenAPI 3.1 document
//! GET    /metrics                            Prometheus text format
//! GET|POST /login, POST /logout              dashboard sign-in (see crate::auth)
//! ```
//!
//! Every error is `application/problem+json` (`{type,title,status,detail}`); request bodies
//! are capped at [`BODY_LIMIT`] (413 beyond). Slow clients are cut off ([`Limits`]: a request
//! head must arrive within 15 s, a body within 15 s more; see `server.rs`).

mod devices;
mod history;
mod openapi;
pub mod problem;
mod schedules;
mod server;
mod validate;

use std::{future::Future, io, sync::Arc};

use axum::{
    extract::{DefaultBodyLimit, State},
    http::{header, HeaderValue},
    middleware,
    response::{IntoResponse, Response},
    routing::any,
    Router,
};
use tokio::{net::TcpListener, sync::watch};
use tower_http::{limit::RequestBodyLimitLayer, trace::TraceLayer};

pub use self::{
    problem::{Problem, BODY_LIMIT, PROBLEM_JSON},
    server::Limits,
};
pub use crate::auth::{generate_token, token_required, Security};
use crate::{
    auth::{self, Auth},
    metrics::Metrics,
    scheduler::SchedulerControl,
    store::StoreError,
    Hub,
};

/// Extensions the API talks to besides the hub.
#[derive(Debug, Clone, Default)]
pub struct ApiOptions {
    /// The running scheduler: told to re-read its rules after every change made through the
    /// API (it also re-reads them every 15 seconds on its own).
    pub scheduler: Option<SchedulerControl>,
}

/// What every handler sees.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) hub: Hub,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) scheduler: Option<SchedulerControl>,
    /// Becomes true when the server shuts down (ends event streams).
    pub(crate) closing: watch::Receiver<bool>,
}

/// Adds a route and records its methods in the route table (so the table, the OpenAPI test
/// and the router cannot drift apart).
macro_rules! route {
    ($r:ident, $t:ident, $path:literal, $m0:ident($h0:expr) $(, $m:ident($h:expr))* $(,)?) => {
        $r = $r.route($path, axum::routing::$m0($h0) $(.$m($h))*);
        $t.push((stringify!($m0), $path));
        $( $t.push((stringify!($m), $path)); )*
    };
}

type Table = Vec<(&'static str, &'static str)>;

fn api_routes() -> (Router<ApiState>, Table) {
    let mut r = Router::new();
    let mut t = Table::new();
    route!(r, t, "/api/v1/devices", get(devices::list), post(devices::create));
    route!(
        r,
        t,
        "/api/v1/devices/{id}",
        get(devices::get_one),
        patch(devices::patch),
        delete(devices::remove)
    );
    route!(r, t, "/api/v1/devices/{id}/on", post(devices::on));
    route!(r, t, "/api/v1/devices/{id}/off", post(devices::off));
    route!(r, t, "/api/v1/devices/{id}/toggle", post(devices::toggle));
    route!(r, t, "/api/v1/devices/{id}/switch", post(devices::switch_body));
    route!(r, t, "/api/v1/devices/{id}/energy", get(history::energy));
    route!(r, t, "/api/v1/devices/{id}/history", get(history::energy));
    route!(r, t, "/api/v1/events", get(history::events));
    route!(r, t, "/api/v1/events/stream", get(history::stream));
    route!(r, t, "/api/v1/schedules", get(schedules::list), post(schedules::create));
    route!(
        r,
        t,
        "/api/v1/schedules/{id}",
        get(schedules::get_one),
        put(schedules::put),
        delete(schedules::remove)
    );
    route!(r, t, "/api/v1/discover", post(devices::discover));
    route!(r, t, "/api/v1/reload", post(devices::reload));
    route!(r, t, "/api/v1/openapi.json", get(openapi::document));
    route!(r, t, "/metrics", get(metrics));
    (r, t)
}

/// Every route the server answers, as `(METHOD, path)` with `{param}` placeholders (the
/// dashboard's pages excepted).
pub fn route_table() -> Vec<(String, String)> {
    let (_, t) = api_routes();
    t.into_iter()
        .chain(auth::ROUTES.iter().copied())
        .map(|(m, p)| (m.to_ascii_uppercase(), p.to_string()))
        .collect()
}

/// The OpenAPI document served at `/api/v1/openapi.json`.
pub fn openapi_document() -> &'static str {
    openapi::OPENAPI
}

/// The whole HTTP application: API, metrics, sign-in and dashboard, behind the security
/// middleware. Must be called inside a tokio runtime (it starts the metrics listener).
pub fn router(hub: Hub, security: Security) -> Router {
    router_with(hub, security, ApiOptions::default())
}

/// [`router`] with extensions.
pub fn router_with(hub: Hub, security: Security, opts: ApiOptions) -> Router {
    // Nobody can shut this one down: a dropped sender means "never closing" (see `closed`).
    build(hub, security, opts, watch::channel(false).1, Limits::default())
}

fn build(
    hub: Hub,
    security: Security,
    opts: ApiOptions,
    closing: watch::Receiver<bool>,
    limits: Limits,
) -> Router {
    let metrics = Arc::new(Metrics::start(&hub));
    let auth = Arc::new(Auth::new(security));
    let state = ApiState { hub, metrics, scheduler: opts.scheduler, closing };
    let (api, _) = api_routes();
    let app: Router = api
        .route("/api/{*rest}", any(api_not_found))
        .with_state(state)
        .merge(auth::routes().with_state(auth.clone()))
        // The dashboard's pages sit behind the same guard.
        .merge(crate::web::routes());
    app.layer(middleware::from_fn_with_state(Arc::new(limits), server::body_deadline))
        .layer(middleware::from_fn_with_state(auth, auth::guard))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(middleware::map_response(problem::problemify))
        .layer(middleware::map_response(security_headers))
        .layer(TraceLayer::new_for_http())
}

/// Serves the application on an already-bound listener until the process ends.
///
/// Refuses to serve a non-loopback address without a token, or with one shorter than
/// [`MIN_TOKEN_LEN`](crate::auth::MIN_TOKEN_LEN) ([`Security::check_for`]).
pub async fn serve(listener: TcpListener, hub: Hub, security: Security) -> io::Result<()> {
    serve_with(listener, hub, security, ApiOptions::default(), std::future::pending::<()>()).await
}

/// Like [`serve`], returning once `shutdown` completes and open requests finished (event
/// streams end at once).
pub async fn serve_with_shutdown<F>(
    listener: TcpListener,
    hub: Hub,
    security: Security,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_with(listener, hub, security, ApiOptions::default(), shutdown).await
}

/// [`serve_with_shutdown`] with extensions.
pub async fn serve_with<F>(
    listener: TcpListener,
    hub: Hub,
    security: Security,
    opts: ApiOptions,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_with_limits(listener, hub, security, opts, Limits::default(), shutdown).await
}

/// [`serve_with`] with other time limits for slow clients.
pub async fn serve_with_limits<F>(
    listener: TcpListener,
    hub: Hub,
    security: Security,
    opts: ApiOptions,
    limits: Limits,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let addr = listener.local_addr()?;
    security.check_for(addr).map_err(|e| {
        let kind = if security.token.is_none() {
            io::ErrorKind::PermissionDenied
        } else {
            io::ErrorKind::InvalidInput
        };
        io::Error::new(kind, e.to_string())
    })?;
    let (tx, rx) = watch::channel(false);
    let app = build(hub, security, opts, rx, limits);
    tracing::info!("hub API listening on http://{addr}");
    server::run(listener, app, limits, tx, shutdown).await
}

async fn api_not_found() -> Problem {
    Problem::not_found("no such API route; the routes are listed in /api/v1/openapi.json")
}

async fn metrics(State(s): State<ApiState>) -> Response {
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], s.metrics.render(&s.hub)).into_response()
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("same-origin"));
    resp
}

/// Runs a store call off the async threads.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, Problem>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Problem::internal(format!("storage task failed: {e}")))?
        .map_err(Problem::from)
}

/// Resolves when the server shuts down (never, if nobody can shut it down).
pub(crate) async fn closed(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
