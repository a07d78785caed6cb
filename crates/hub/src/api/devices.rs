//! Devices: list, add, get, patch, delete, switch; discovery and reload.

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};

use super::{
    problem::{ApiJson, ApiQuery, Problem},
    validate, ApiState,
};
use crate::{config::DeviceEntry, model::DeviceView, DevicePatch, SwitchAction};

/// Longest display name, room or tag accepted, bytes.
const MAX_TEXT: usize = 128;
/// Most tags on a device.
const MAX_TAGS: usize = 32;

fn check_interval(v: f64) -> Result<(), Problem> {
    if v.is_finite() && (1.0..=86_400.0).contains(&v) {
        Ok(())
    } else {
        Err(Problem::unprocessable(format!("`interval` = {v} is out of range (1 to 86400 seconds)")))
    }
}

fn check_text(field: &str, v: &str) -> Result<(), Problem> {
    if v.len() > MAX_TEXT {
        return Err(Problem::unprocessable(format!("`{field}` is longer than {MAX_TEXT} bytes")));
    }
    if v.chars().any(char::is_control) {
        return Err(Problem::unprocessable(format!("`{field}` contains control characters")));
    }
    Ok(())
}

fn check_tags(tags: &[String]) -> Result<(), Problem> {
    if tags.len() > MAX_TAGS {
        return Err(Problem::unprocessable(format!("at most {MAX_TAGS} tags")));
    }
    tags.iter().try_for_each(|t| check_text("tags", t))
}

pub(super) async fn list(State(s): State<ApiState>) -> Json<Vec<DeviceView>> {
    Json(s.hub.devices())
}

pub(super) async fn create(
    State(s): State<ApiState>,
    ApiJson(entry): ApiJson<DeviceEntry>,
) -> Result<Response, Problem> {
    validate::host(&entry.host)?;
    validate::udp_port(entry.udp_port)?;
    if let Some(v) = entry.interval {
        check_interval(v)?;
    }
    if let Some(n) = &entry.name {
        check_text("name", n)?;
    }
    if let Some(r) = &entry.room {
        check_text("room", r)?;
    }
    check_tags(&entry.tags)?;
    let view = s.hub.add_device(entry).await?;
    let location = format!("/api/v1/devices/{}", view.info.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(view)).into_response())
}

fn not_found(id: &str) -> Problem {
    Problem::not_found(format!("no device with id {id}")).with("device", id)
}

pub(super) async fn get_one(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<DeviceView>, Problem> {
    let id = validate::device_path(id)?;
    s.hub.device(&id).map(Json).ok_or_else(|| not_found(id.as_str()))
}

pub(super) async fn patch(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<DevicePatch>,
) -> Result<Json<DeviceView>, Problem> {
    let id = validate::device_path(id)?;
    if let Some(v) = p.interval {
        check_interval(v)?;
    }
    if let Some(n) = &p.name {
        if n.trim().is_empty() {
            return Err(Problem::unprocessable("`name` must not be empty"));
        }
        check_text("name", n)?;
    }
    if let Some(r) = &p.room {
        check_text("room", r)?;
    }
    if let Some(t) = &p.tags {
        check_tags(t)?;
    }
    Ok(Json(s.hub.patch_device(&id, p).await?))
}

pub(super) async fn remove(State(s): State<ApiState>, Path(id): Path<String>) -> Result<StatusCode, Problem> {
    s.hub.remove_device(&validate::device_path(id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?outlet=N` of a switch.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OutletQuery {
    outlet: Option<usize>,
}

async fn switch(
    s: ApiState,
    id: String,
    action: SwitchAction,
    q: OutletQuery,
) -> Result<Json<DeviceView>, Problem> {
    let id = validate::device_path(id)?;
    if s.hub.device(&id).is_none() {
        return Err(not_found(id.as_str()));
    }
    let outlet = validate::outlet(q.outlet)?;
    match s.hub.switch(&id, action, outlet).await {
        Ok(v) => Ok(Json(v)),
        Err(e) => Err(Problem::from(e).with("device", id.as_str())),
    }
}

pub(super) async fn on(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<OutletQuery>,
) -> Result<Json<DeviceView>, Problem> {
    switch(s, id, SwitchAction::On, q).await
}

pub(super) async fn off(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<OutletQuery>,
) -> Result<Json<DeviceView>, Problem> {
    switch(s, id, SwitchAction::Off, q).await
}

pub(super) async fn toggle(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<OutletQuery>,
) -> Result<Json<DeviceView>, Problem> {
    switch(s, id, SwitchAction::Toggle, q).await
}

/// Body of `POST /devices/{id}/switch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SwitchBody {
    action: SwitchAction,
    #[serde(default)]
    outlet: Option<usize>,
}

/// `POST /devices/{id}/switch` with `{"action":"on"|"off"|"toggle","outlet":N?}` (what the
/// dashboard sends; the same as the `/on`, `/off` and `/toggle` routes).
pub(super) async fn switch_body(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SwitchBody>,
) -> Result<Json<DeviceView>, Problem> {
    switch(s, id, b.action, OutletQuery { outlet: b.outlet }).await
}

/// The answer of `POST /discover`.
#[derive(Debug, Serialize)]
pub(super) struct Discovered {
    answered: usize,
}

pub(super) async fn discover(State(s): State<ApiState>) -> Result<Json<Discovered>, Problem> {
    let answered = s.hub.discover_now().await?;
    Ok(Json(Discovered { answered }))
}

pub(super) async fn reload(State(s): State<ApiState>) -> Result<StatusCode, Problem> {
    s.hub.reload_config().await?;
    Ok(StatusCode::NO_CONTENT)
}
