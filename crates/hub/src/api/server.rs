//! The accept loop of the HTTP server and its defences against slow clients.
//!
//! `axum::serve` sets no timer on hyper, so hyper's header read timeout never fires: a client
//! that sends half a request head (or nothing at all) holds its connection for ever. This loop
//! serves each connection with hyper's HTTP/1 server and a [`Limits::header_timeout`]: the
//! whole request head (and the wait for the next request on a kept-alive connection) must
//! arrive within it, or the connection is closed. Request bodies are read by the
//! [`body_deadline`] middleware, which gives the whole body [`Limits::body_timeout`] (a body
//! trickled a byte at a time is cut: `408` problem, connection closed).

use std::{future::Future, io, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Router,
};
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::watch};

use super::problem::{too_large, Problem, BODY_LIMIT};

/// Time limits of the HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest a client may take to send a request head, and the longest an idle
    /// kept-alive connection stays open (default 15 s).
    pub header_timeout: Duration,
    /// The longest a client may take to send a request body, counted once the head arrived
    /// (default 15 s).
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { header_timeout: Duration::from_secs(15), body_timeout: Duration::from_secs(15) }
    }
}

/// Middleware: reads the request body (at most [`BODY_LIMIT`] bytes) within
/// [`Limits::body_timeout`], so handlers only ever see a complete, buffered body.
pub(crate) async fn body_deadline(State(limits): State<Arc<Limits>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let has_body = parts.headers.contains_key(header::TRANSFER_ENCODING)
        || parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    if !has_body {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let read = http_body_util::Limited::new(body, BODY_LIMIT).collect();
    match tokio::time::timeout(limits.body_timeout, read).await {
        Ok(Ok(collected)) => next.run(Request::from_parts(parts, Body::from(collected.to_bytes()))).await,
        Ok(Err(e)) if over_limit(&*e) => too_large().into_response(),
        Ok(Err(e)) => {
            // The client broke off or sent a malformed body (bad chunked encoding): there is
            // nobody left to answer, but say why for the log.
            tracing::debug!("request body unreadable: {e}");
            Problem::bad_request("the request body could not be read").closing().into_response()
        }
        Err(_) => Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within {} s", limits.body_timeout.as_secs_f64()),
        )
        .closing()
        .into_response(),
    }
}

/// Whether a body error is (or was caused by) a length limit, ours or an outer layer's.
fn over_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Whether an `accept` error concerns one connection only (go on at once) rather than the
/// listener or the process (e.g. out of file descriptors: wait a little).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests finish
/// (`closing` is set at once, so event streams end) and returns.
pub(crate) async fn run<F>(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    closing: watch::Sender<bool>,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    // Every connection task holds a receiver; `closed()` on the sender resolves once all are
    // gone.
    let (conns_tx, conns_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::warn!("accept failed: {e}; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut stop = closing.subscribe();
        let held = conns_rx.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let mut stopping = false;
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(%peer, "connection ended: {e}");
                        }
                        break;
                    }
                    _ = super::closed(&mut stop), if !stopping => {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(held);
        });
    }
    drop(listener);
    closing.send_replace(true);
    drop(conns_rx);
    conns_tx.closed().await;
    Ok(())
}
