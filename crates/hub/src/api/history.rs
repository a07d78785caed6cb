//! Energy history, the event log and the live event stream (server-sent events).

use std::{collections::HashSet, convert::Infallible, time::Duration};

use axum::{
    extract::{Path, State},
    response::sse::{Event, KeepAlive, Sse},
    Json,
};
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::{
    broadcast::{self, error::RecvError},
    watch,
};

use super::{
    blocking, closed,
    problem::{ApiQuery, Problem},
    validate, ApiState,
};
use crate::{
    events::HubEvent,
    model::{now_ms, DeviceId},
    store::{Bucket, EnergyTotals, HistoryPoint, StoredEvent},
};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// 9999-12-31T23:59:59.999Z.
const MAX_MS: i64 = 253_402_300_799_999;

/// The widest range each bucket may be asked for (keeps answers to tens of thousands of
/// points at most).
fn max_span(b: Bucket) -> (i64, &'static str) {
    match b {
        Bucket::Raw => (DAY_MS, "1 day"),
        Bucket::Minute => (31 * DAY_MS, "31 days"),
        Bucket::Hour => (5 * 366 * DAY_MS, "5 years"),
        Bucket::Day | Bucket::Month => (MAX_MS, "any range"),
    }
}

/// The bucket used when none is given.
fn auto_bucket(span_ms: i64) -> Bucket {
    if span_ms <= 6 * HOUR_MS {
        Bucket::Minute
    } else if span_ms <= 31 * DAY_MS {
        Bucket::Hour
    } else if span_ms <= 3 * 366 * DAY_MS {
        Bucket::Day
    } else {
        Bucket::Month
    }
}

/// Parses an instant: Unix milliseconds or RFC 3339 (`2025-01-31T12:00:00Z`,
/// `2025-01-31T13:00:00+01:00`; a `+` that arrived as a space in a query string is accepted).
pub(crate) fn parse_instant(name: &str, s: &str) -> Result<i64, Problem> {
    validate::instant_len(name, s)?;
    let t = s.trim();
    let numeric =
        !t.is_empty() && t.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'));
    let ms = if numeric {
        t.parse::<i64>().map_err(|_| {
            Problem::bad_request(format!("`{name}`: {t} is not a valid number of Unix milliseconds"))
        })?
    } else {
        t.parse::<jiff::Timestamp>()
            .or_else(|e| t.replace(' ', "+").parse::<jiff::Timestamp>().map_err(|_| e))
            .map(|ts| ts.as_millisecond())
            .map_err(|e| {
                Problem::bad_request(format!(
                    "`{name}`: expected an RFC 3339 instant (e.g. 2025-01-31T12:00:00Z) or Unix milliseconds, \
                     got {t:?} ({e})"
                ))
            })?
    };
    if !(0..=MAX_MS).contains(&ms) {
        return Err(Problem::unprocessable(format!("`{name}` must be between 1970-01-01 and 9999-12-31")));
    }
    Ok(ms)
}

/// `GET /devices/{id}/energy` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EnergyQuery {
    from: Option<String>,
    to: Option<String>,
    bucket: Option<Bucket>,
}

/// `GET /devices/{id}/energy` answer.
#[derive(Debug, Serialize)]
pub(super) struct EnergyAnswer {
    id: DeviceId,
    from_ms: i64,
    to_ms: i64,
    bucket: Bucket,
    /// The series.
    points: Vec<HistoryPoint>,
    /// kWh over the range (sum of the points).
    range_kwh: f64,
    /// kWh today and this month.
    totals: EnergyTotals,
}

pub(super) async fn energy(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<EnergyQuery>,
) -> Result<Json<EnergyAnswer>, Problem> {
    let id = validate::device_path(id)?;
    if s.hub.device(&id).is_none() {
        return Err(Problem::not_found(format!("no device with id {id}")).with("device", id.as_str()));
    }
    let now = now_ms();
    let to_ms = q.to.as_deref().map(|t| parse_instant("to", t)).transpose()?.unwrap_or(now);
    let from_ms =
        q.from.as_deref().map(|t| parse_instant("from", t)).transpose()?.unwrap_or((to_ms - DAY_MS).max(0));
    if from_ms >= to_ms {
        return Err(Problem::unprocessable("`from` must be earlier than `to`"));
    }
    let span = to_ms - from_ms;
    let bucket = q.bucket.unwrap_or_else(|| auto_bucket(span));
    let (max, shown) = max_span(bucket);
    if span > max {
        return Err(Problem::unprocessable(format!(
            "the range is too wide for bucket `{}`: at most {shown}; pick a coarser bucket",
            serde_json::to_value(bucket)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        )));
    }
    let store = s.hub.store().clone();
    let qid = id.clone();
    let (points, totals) = blocking(move || {
        let points = store.history(&qid, from_ms, to_ms, bucket)?;
        let totals = store.energy_totals(&qid, now)?;
        Ok((points, totals))
    })
    .await?;
    let range_kwh = points.iter().map(|p| p.energy_kwh).sum();
    Ok(Json(EnergyAnswer { id, from_ms, to_ms, bucket, points, range_kwh, totals }))
}

/// `GET /events` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventsQuery {
    device: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
}

/// `GET /events` answer.
#[derive(Debug, Serialize)]
pub(super) struct EventsPage {
    /// Newest first.
    events: Vec<StoredEvent>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<i64>,
}

/// Most events per page.
const MAX_LIMIT: usize = 1000;

pub(super) async fn events(
    State(s): State<ApiState>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<EventsPage>, Problem> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::unprocessable(format!("`limit` must be between 1 and {MAX_LIMIT}")));
    }
    if q.before.is_some_and(|b| b < 1) {
        return Err(Problem::unprocessable("`before` must be a positive event `seq`"));
    }
    let store = s.hub.store().clone();
    let device = q.device.map(|d| validate::device_field("device", d)).transpose()?;
    let before = q.before;
    let events = blocking(move || store.events(device.as_ref(), before, limit)).await?;
    let next_before = if events.len() == limit { events.last().map(|e| e.seq) } else { None };
    Ok(Json(EventsPage { events, next_before }))
}

/// The `type` names of [`HubEvent`]s.
const EVENT_TYPES: &[&str] = &[
    "device_added",
    "device_removed",
    "device_updated",
    "state_changed",
    "online",
    "offline",
    "sample",
    "error",
];

/// `GET /events/stream` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StreamQuery {
    /// Only this device's events.
    device: Option<String>,
    /// Comma-separated event types.
    types: Option<String>,
}

struct Sub {
    rx: broadcast::Receiver<HubEvent>,
    device: Option<DeviceId>,
    types: Option<HashSet<String>>,
    closing: watch::Receiver<bool>,
    greeted: bool,
}

fn type_of(e: &HubEvent) -> &'static str {
    match e {
        HubEvent::DeviceAdded { .. } => "device_added",
        HubEvent::DeviceRemoved { .. } => "device_removed",
        HubEvent::DeviceUpdated { .. } => "device_updated",
        HubEvent::StateChanged { .. } => "state_changed",
        HubEvent::Online { .. } => "online",
        HubEvent::Offline { .. } => "offline",
        HubEvent::Sample { .. } => "sample",
        HubEvent::Error { .. } => "error",
    }
}

impl Sub {
    fn wants(&self, e: &HubEvent) -> bool {
        self.device.as_ref().is_none_or(|d| e.device() == Some(d))
            && self.types.as_ref().is_none_or(|t| t.contains(type_of(e)))
    }
}

async fn next_event(mut sub: Sub) -> Option<(Result<Event, Infallible>, Sub)> {
    if !sub.greeted {
        sub.greeted = true;
        return Some((Ok(Event::default().comment("plugctl hub events")), sub));
    }
    loop {
        let r = tokio::select! {
            _ = closed(&mut sub.closing) => return None,
            r = sub.rx.recv() => r,
        };
        match r {
            Ok(e) if sub.wants(&e) => match Event::default().json_data(&e) {
                Ok(ev) => return Some((Ok(ev), sub)),
                Err(err) => tracing::debug!("event not serialisable: {err}"),
            },
            Ok(_) => {}
            Err(RecvError::Lagged(n)) => {
                let ev = Event::default().event("lagged").data(format!("{{\"missed\":{n}}}"));
                return Some((Ok(ev), sub));
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

pub(super) async fn stream(
    State(s): State<ApiState>,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let types = match q.types.as_deref() {
        None => None,
        Some(list) if list.len() > 256 => {
            return Err(Problem::bad_request("`types` is longer than 256 bytes"));
        }
        Some(list) => {
            let set: HashSet<String> =
                list.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
            if let Some(bad) = set.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
                return Err(Problem::bad_request(format!(
                    "unknown event type `{bad}` in `types` (known: {})",
                    EVENT_TYPES.join(", ")
                )));
            }
            Some(set)
        }
    };
    let device = q.device.map(|d| validate::device_field("device", d)).transpose()?;
    // Subscribe before answering, so nothing published after the answer is missed.
    let sub =
        Sub { rx: s.hub.events().subscribe(), device, types, closing: s.closing.clone(), greeted: false };
    let stream = futures::stream::unfold(sub, next_event);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("keep-alive")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse() {
        assert_eq!(parse_instant("from", "1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_instant("from", "2023-11-14T22:13:20Z").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_instant("from", "2023-11-14T23:13:20+01:00").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_instant("from", "2023-11-14T23:13:20 01:00").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_instant("from", "-5").unwrap_err().status, 422);
        let e = parse_instant("to", "yesterday").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.detail.contains("`to`"), "{}", e.detail);
    }

    #[test]
    fn buckets() {
        assert_eq!(auto_bucket(HOUR_MS), Bucket::Minute);
        assert_eq!(auto_bucket(DAY_MS), Bucket::Hour);
        assert_eq!(auto_bucket(365 * DAY_MS), Bucket::Day);
        assert_eq!(auto_bucket(10 * 365 * DAY_MS), Bucket::Month);
    }

    #[test]
    fn event_types_cover_every_variant() {
        let e = HubEvent::Error { id: None, message: String::new(), at_ms: 0 };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], type_of(&e));
        assert!(EVENT_TYPES.contains(&type_of(&e)));
    }
}
