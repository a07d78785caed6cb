//! Reboots: a reboot scheduled `delay` after the request takes the device offline for the
//! configured reboot time. While offline the device answers nothing; connections from before
//! the reboot are dropped (the server compares [`PowerCycle::epoch`]s).

use std::time::{Duration, Instant};

/// See the module docs.
#[derive(Debug, Clone, Default)]
pub(crate) struct PowerCycle {
    /// A scheduled reboot: (start, end).
    pending: Option<(Instant, Instant)>,
    offline_until: Option<Instant>,
    epoch: u64,
}

impl PowerCycle {
    /// Schedules a reboot starting at `now + delay` and lasting `duration`.
    pub(crate) fn schedule(&mut self, now: Instant, delay: Duration, duration: Duration) {
        if let Some((start, end)) = self.pending.take() {
            if start <= now {
                self.epoch += 1;
                self.offline_until = Some(end);
            }
        }
        let start = now.checked_add(delay).unwrap_or(now);
        let end = start.checked_add(duration).unwrap_or(start);
        self.pending = Some((start, end));
    }

    /// True while rebooting.
    pub(crate) fn is_offline(&self, now: Instant) -> bool {
        self.offline_until.is_some_and(|e| now < e) || self.pending.is_some_and(|(s, e)| s <= now && now < e)
    }

    /// How many reboots have started by `now`.
    pub(crate) fn epoch(&self, now: Instant) -> u64 {
        self.epoch + u64::from(self.pending.is_some_and(|(s, _)| s <= now))
    }

    /// When the next scheduled reboot starts, if one is pending.
    pub(crate) fn pending_start(&self) -> Option<Instant> {
        self.pending.map(|(s, _)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_epoch() {
        let t = Instant::now();
        let s = Duration::from_secs(1);
        let mut p = PowerCycle::default();
        assert!(!p.is_offline(t));
        p.schedule(t, s, 2 * s);
        assert!(!p.is_offline(t));
        assert_eq!(p.epoch(t), 0);
        assert!(p.is_offline(t + s));
        assert_eq!(p.epoch(t + s), 1);
        assert!(!p.is_offline(t + 3 * s));
        p.schedule(t + 4 * s, Duration::ZERO, s);
        assert!(p.is_offline(t + 4 * s));
        assert_eq!(p.epoch(t + 4 * s), 2);
        assert_eq!(p.pending_start(), Some(t + 4 * s));
    }
}
