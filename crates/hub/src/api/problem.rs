//! RFC 9457 problem details (`application/problem+json`), the extractors that turn every
//! rejection into one, and the middleware that converts bare error responses (405 from the
//! router, 413 from the body limit, …) into problems too.

use axum::{
    body::Body,
    extract::{
        rejection::{BytesRejection, FailedToBufferBody, FormRejection, JsonRejection, QueryRejection},
        FromRequest, FromRequestParts, Request,
    },
    http::{header, request::Parts, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Form, Json,
};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{Map, Value};

use crate::HubError;

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The largest request body accepted, bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// An error answer: `{type, title, status, detail}` plus optional extension members (boxed,
/// so `Result<_, Problem>` stays small).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Problem(Box<ProblemDetails>);

/// The members of a [`Problem`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemDetails {
    /// A URI naming the problem type (`about:blank` for plain HTTP errors).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time, for a human.
    pub detail: String,
    /// Extension members (e.g. `device`).
    #[serde(flatten, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    /// Extra response headers (not serialised).
    #[serde(skip)]
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl std::ops::Deref for Problem {
    type Target = ProblemDetails;

    fn deref(&self) -> &ProblemDetails {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemDetails {
        &mut self.0
    }
}

impl Problem {
    /// A plain HTTP problem (`about:blank`, title = the status phrase).
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self(Box::new(ProblemDetails {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            extra: Map::new(),
            headers: Vec::new(),
        }))
    }

    /// 400.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 422.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 500 (the detail is shown: the hub has no secrets in its error messages).
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }

    /// Sets a specific problem type and title.
    pub fn typed(mut self, kind: &str, title: &str) -> Self {
        self.kind = kind.to_string();
        self.title = title.to_string();
        self
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Asks the server to close the connection after this answer (the rest of the request
    /// was not read).
    pub fn closing(self) -> Self {
        self.header(header::CONNECTION, HeaderValue::from_static("close"))
    }

    /// The status as a [`StatusCode`].
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = self.status_code();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::PAYLOAD_TOO_LARGE.as_u16() {
            // The rest of the body is not read: the connection cannot be reused.
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        for (k, v) in std::mem::take(&mut self.0.headers) {
            h.insert(k, v);
        }
        resp
    }
}

impl From<HubError> for Problem {
    fn from(e: HubError) -> Self {
        match &e {
            HubError::NotFound(id) => Problem::not_found(e.to_string()).with("device", id.as_str()),
            HubError::Invalid(_) => Problem::unprocessable(e.to_string()),
            HubError::Device(_) => Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
                .typed("urn:plugctl:problem:device-unreachable", "Device unreachable"),
            HubError::Store(_) => Problem::internal(e.to_string()),
            HubError::Config(_) => Problem::unprocessable(e.to_string())
                .typed("urn:plugctl:problem:invalid-configuration", "Invalid configuration"),
        }
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Self {
        Problem::internal(format!("storage: {e}"))
    }
}

pub(crate) fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body exceeds the limit of {BODY_LIMIT} bytes"),
    )
}

fn bytes_rejection(e: &BytesRejection) -> Option<Problem> {
    match e {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => Some(too_large()),
        _ => None,
    }
}

/// A JSON object body with problem rejections (unknown fields → 422 naming the field, not an
/// object → 422, bad syntax → 400, wrong content type → 415, too large → 413).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
            Ok(b) => b,
            Err(_) => return Err(too_large()),
        };
        let req = Request::from_parts(parts, Body::from(bytes.clone()));
        match Json::<T>::from_request(req, state).await {
            // serde also fills a struct from a JSON array (by position): only objects count.
            Ok(Json(_)) if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') => {
                Err(Problem::unprocessable("the request body must be a JSON object"))
            }
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(json_rejection(&e)),
        }
    }
}

fn json_rejection(e: &JsonRejection) -> Problem {
    if let JsonRejection::BytesRejection(b) = e {
        if let Some(p) = bytes_rejection(b) {
            return p;
        }
    }
    let detail = match e {
        JsonRejection::MissingJsonContentType(_) => {
            "expected a JSON body with `Content-Type: application/json`".into()
        }
        _ => e.body_text(),
    };
    Problem::new(e.status(), detail)
}

/// Query parameters with problem rejections (unknown parameters → 400 naming them).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(query_rejection(&e)),
        }
    }
}

fn query_rejection(e: &QueryRejection) -> Problem {
    Problem::new(e.status(), e.body_text())
}

/// A urlencoded form with problem rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiForm<T>(pub T);

impl<T, S> FromRequest<S> for ApiForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(v)) => Ok(ApiForm(v)),
            Err(e) => Err(form_rejection(&e)),
        }
    }
}

fn form_rejection(e: &FormRejection) -> Problem {
    if let FormRejection::BytesRejection(b) = e {
        if let Some(p) = bytes_rejection(b) {
            return p;
        }
    }
    Problem::new(e.status(), e.body_text())
}

/// Middleware: an error response that is not already a problem (and not an HTML page) becomes
/// one, keeping its status and headers (`Allow` on a 405); a short plain-text body becomes
/// the `detail`.
pub async fn problemify(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let ctype = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let plain = ctype.is_empty() || ctype.starts_with("text/plain");
    if !plain {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => too_large().detail.clone(),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("");
            format!("method not allowed on this path (allowed: {allow})")
        }
        StatusCode::NOT_FOUND if text.is_empty() => "no such resource".to_string(),
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_string(),
        _ => text,
    };
    let mut out = Problem::new(status, detail).into_response();
    let mut headers = parts.headers;
    headers.remove(header::CONTENT_TYPE);
    headers.remove(header::CONTENT_LENGTH);
    for (k, v) in out.headers() {
        headers.insert(k.clone(), v.clone());
    }
    *out.headers_mut() = headers;
    out
}
