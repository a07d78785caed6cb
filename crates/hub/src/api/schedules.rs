//! Local schedule rules: stored as JSON through the store; their shape belongs to the
//! scheduler ([`crate::scheduler::validate_rule_for`]), which is told to re-read them after
//! every change.

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use rand::RngCore;
use serde_json::Value;

use super::{
    blocking,
    problem::{ApiJson, Problem},
    ApiState,
};
use crate::store::StoredSchedule;

/// Longest schedule id.
const MAX_ID: usize = 64;

fn check_id(id: &str) -> Result<(), Problem> {
    if id.is_empty()
        || id.len() > MAX_ID
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(Problem::unprocessable(format!(
            "a schedule id is 1 to {MAX_ID} characters of A-Z, a-z, 0-9, `-`, `_` and `.`"
        )));
    }
    Ok(())
}

/// Longest cron expression accepted, bytes.
const MAX_CRON: usize = 256;

/// A schedule id from a path: one that cannot exist is not found (and not echoed).
fn path_id(id: &str) -> Result<(), Problem> {
    check_id(id).map_err(|_| Problem::not_found("no schedule with this id"))
}

/// Checks a rule to be stored under `id` and returns what to store.
fn validate(s: &ApiState, id: &str, rule: &Value) -> Result<Value, Problem> {
    let rule = crate::scheduler::validate_rule_for(id, rule).map_err(Problem::unprocessable)?;
    if let crate::scheduler::When::Cron(c) = &rule.when {
        if c.len() > MAX_CRON {
            return Err(Problem::unprocessable(format!("`when.cron` is longer than {MAX_CRON} bytes")));
        }
    }
    if s.hub.device(&rule.device).is_none() {
        return Err(Problem::unprocessable(format!("device: no device with id {}", rule.device))
            .with("device", rule.device.as_str()));
    }
    Ok(rule.to_json())
}

fn changed(s: &ApiState) {
    if let Some(c) = &s.scheduler {
        c.reload();
    }
}

fn new_id() -> String {
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn find(s: &ApiState, id: &str) -> Result<Option<StoredSchedule>, Problem> {
    let store = s.hub.store().clone();
    let all = blocking(move || store.schedules()).await?;
    Ok(all.into_iter().find(|r| r.id == id))
}

fn not_found(id: &str) -> Problem {
    Problem::not_found(format!("no schedule with id {id}")).with("schedule", id)
}

pub(super) async fn list(State(s): State<ApiState>) -> Result<Json<Vec<StoredSchedule>>, Problem> {
    let store = s.hub.store().clone();
    Ok(Json(blocking(move || store.schedules()).await?))
}

pub(super) async fn get_one(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<StoredSchedule>, Problem> {
    path_id(&id)?;
    find(&s, &id).await?.map(Json).ok_or_else(|| not_found(&id))
}

async fn store_rule(s: &ApiState, id: String, rule: Value) -> Result<StoredSchedule, Problem> {
    let store = s.hub.store().clone();
    let (sid, srule) = (id.clone(), rule.clone());
    blocking(move || store.put_schedule(&sid, &srule)).await?;
    Ok(StoredSchedule { id, rule })
}

pub(super) async fn create(
    State(s): State<ApiState>,
    ApiJson(rule): ApiJson<Value>,
) -> Result<Response, Problem> {
    let given = match rule.get("id") {
        Some(Value::String(id)) => Some(id.clone()),
        _ => None,
    };
    let id = match &given {
        Some(id) => {
            check_id(id)?;
            if find(&s, id).await?.is_some() {
                return Err(Problem::new(
                    StatusCode::CONFLICT,
                    format!("a schedule with id {id} exists; PUT replaces it"),
                )
                .with("schedule", id.as_str()));
            }
            id.clone()
        }
        None => new_id(),
    };
    let rule = validate(&s, &id, &rule)?;
    let saved = store_rule(&s, id, rule).await?;
    changed(&s);
    let location = format!("/api/v1/schedules/{}", saved.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(saved)).into_response())
}

pub(super) async fn put(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    ApiJson(rule): ApiJson<Value>,
) -> Result<Response, Problem> {
    check_id(&id)?;
    let rule = validate(&s, &id, &rule)?;
    let existed = find(&s, &id).await?.is_some();
    let saved = store_rule(&s, id, rule).await?;
    changed(&s);
    let status = if existed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(saved)).into_response())
}

pub(super) async fn remove(State(s): State<ApiState>, Path(id): Path<String>) -> Result<StatusCode, Problem> {
    path_id(&id)?;
    let store = s.hub.store().clone();
    let sid = id.clone();
    if blocking(move || store.delete_schedule(&sid)).await? {
        changed(&s);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&id))
    }
}
