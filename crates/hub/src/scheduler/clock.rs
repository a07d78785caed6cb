//! The scheduler's clock, injectable so tests can jump over DST changes and downtime
//! without waiting: [`SystemClock`] in production, [`ManualClock`] in tests.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

/// A future returned by [`Clock::sleep_until`].
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Where the scheduler reads the time and how it waits.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;

    /// Resolves at or after `deadline` by this clock. It may resolve earlier (the caller
    /// re-reads [`now`](Self::now) and decides again), never much later.
    fn sleep_until(&self, deadline: Timestamp) -> Sleep<'_>;
}

/// The host's clock. Sleeps in slices of at most [`SystemClock::MAX_SLICE`] so a clock
/// that jumps (NTP step, suspend and resume) is noticed within that time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The longest single sleep.
    pub const MAX_SLICE: Duration = Duration::from_secs(30);
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep<'_> {
        let wait = deadline.duration_since(Timestamp::now());
        let wait = if wait.is_negative() {
            Duration::ZERO
        } else {
            Duration::try_from(wait).unwrap_or(Self::MAX_SLICE).min(Self::MAX_SLICE)
        };
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that only moves when told to ([`set`](Self::set), [`advance`](Self::advance)).
/// Cheap to clone; clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Manual>,
}

#[derive(Debug)]
struct Manual {
    now: Mutex<Timestamp>,
    tick: watch::Sender<Timestamp>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        let (tick, _) = watch::channel(start);
        Self { inner: Arc::new(Manual { now: Mutex::new(start), tick }) }
    }

    /// Jumps to `t` (forwards or backwards) and wakes every sleeper.
    pub fn set(&self, t: Timestamp) {
        if let Ok(mut now) = self.inner.now.lock() {
            *now = t;
        }
        self.inner.tick.send_replace(t);
    }

    /// Moves the clock by `d`.
    pub fn advance(&self, d: SignedDuration) {
        let t = self.now().checked_add(d).unwrap_or(self.now());
        self.set(t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.inner.now.lock().map(|t| *t).unwrap_or_else(|e| *e.into_inner())
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep<'_> {
        let mut rx = self.inner.tick.subscribe();
        Box::pin(async move {
            loop {
                if *rx.borrow_and_update() >= deadline {
                    return;
                }
                if rx.changed().await.is_err() {
                    // The clock is gone: never resolve (the caller is being dropped too).
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}
