//! The event bus: every extension (store writer, SSE stream, metrics, MQTT later) subscribes.

use serde::Serialize;
use tokio::sync::broadcast;

use crate::model::{DeviceId, Reading};

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubEvent {
    /// A device joined the registry.
    DeviceAdded {
        /// Which.
        id: DeviceId,
    },
    /// A device left the registry.
    DeviceRemoved {
        /// Which.
        id: DeviceId,
    },
    /// A device's facts changed (name, address, room, …).
    DeviceUpdated {
        /// Which.
        id: DeviceId,
    },
    /// A relay changed state (seen by a poll or caused by a switch).
    StateChanged {
        /// Which.
        id: DeviceId,
        /// Outlet index, for strips.
        #[serde(skip_serializing_if = "Option::is_none")]
        outlet: Option<usize>,
        /// New state.
        on: bool,
        /// When (Unix ms).
        at_ms: i64,
    },
    /// The device answers again.
    Online {
        /// Which.
        id: DeviceId,
        /// When (Unix ms).
        at_ms: i64,
    },
    /// The device stopped answering.
    Offline {
        /// Which.
        id: DeviceId,
        /// Why, one line.
        error: String,
        /// When (Unix ms).
        at_ms: i64,
    },
    /// A poll succeeded.
    Sample {
        /// Which.
        id: DeviceId,
        /// What it read.
        reading: Reading,
    },
    /// A command failed (switching an offline plug, a schedule that could not run, …).
    Error {
        /// Which device, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<DeviceId>,
        /// What failed, one line.
        message: String,
        /// When (Unix ms).
        at_ms: i64,
    },
}

impl HubEvent {
    /// The device the event is about.
    pub fn device(&self) -> Option<&DeviceId> {
        match self {
            HubEvent::DeviceAdded { id }
            | HubEvent::DeviceRemoved { id }
            | HubEvent::DeviceUpdated { id }
            | HubEvent::StateChanged { id, .. }
            | HubEvent::Online { id, .. }
            | HubEvent::Offline { id, .. }
            | HubEvent::Sample { id, .. } => Some(id),
            HubEvent::Error { id, .. } => id.as_ref(),
        }
    }
}

/// The bus (a broadcast channel; slow subscribers lose old events, never block pollers).
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<HubEvent>,
}

impl EventBus {
    /// A bus keeping up to `capacity` events for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        Self { tx: broadcast::channel(capacity.max(16)).0 }
    }

    /// Publishes an event (no-op without subscribers).
    pub fn publish(&self, e: HubEvent) {
        let _ = self.tx.send(e);
    }

    /// A new subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<HubEvent> {
        self.tx.subscribe()
    }
}
