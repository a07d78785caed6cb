//! Per-day and per-month accumulators (energy in kWh, runtime in seconds), keyed by the
//! device's local date. Only days that received data exist.

use std::collections::BTreeMap;

use super::clock::DayKey;

/// Days kept; older ones are dropped (month totals are kept separately).
const MAX_DAYS: usize = 800;
/// Months kept.
const MAX_MONTHS: usize = 240;

/// See the module docs.
#[derive(Debug, Clone, Default)]
pub(crate) struct DayStats {
    days: BTreeMap<DayKey, f64>,
    months: BTreeMap<u32, f64>,
}

impl DayStats {
    /// Adds `amount` to `day` (and its month). Creates the entries even for 0.
    pub(crate) fn add(&mut self, day: DayKey, amount: f64) {
        let amount = if amount.is_finite() { amount.max(0.0) } else { 0.0 };
        *self.days.entry(day).or_insert(0.0) += amount;
        *self.months.entry(day / 100).or_insert(0.0) += amount;
        while self.days.len() > MAX_DAYS {
            self.days.pop_first();
        }
        while self.months.len() > MAX_MONTHS {
            self.months.pop_first();
        }
    }

    /// `(day, amount)` for every day with data in `year`/`month`, ascending.
    pub(crate) fn days_of(&self, year: i64, month: i64) -> Vec<(u32, f64)> {
        let Some(prefix) = month_key(year, month) else { return Vec::new() };
        self.days.range(prefix * 100..prefix * 100 + 100).map(|(k, v)| (k % 100, *v)).collect()
    }

    /// `(month, amount)` for every month with data in `year`, ascending.
    pub(crate) fn months_of(&self, year: i64) -> Vec<(u32, f64)> {
        let Some(prefix) = month_key(year, 0) else { return Vec::new() };
        self.months.range(prefix..prefix + 100).map(|(k, v)| (k % 100, *v)).collect()
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.days.clear();
        self.months.clear();
    }
}

fn month_key(year: i64, month: i64) -> Option<u32> {
    if !(0..=9999).contains(&year) || !(0..=12).contains(&month) {
        return None;
    }
    u32::try_from(year * 100 + month).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kasa::device::clock::day_key;

    #[test]
    fn days_and_months() {
        let mut s = DayStats::default();
        s.add(day_key(2024, 2, 28), 1.0);
        s.add(day_key(2024, 2, 29), 0.5);
        s.add(day_key(2024, 3, 1), 0.0);
        s.add(day_key(2024, 3, 1), f64::NAN);
        assert_eq!(s.days_of(2024, 2), vec![(28, 1.0), (29, 0.5)]);
        assert_eq!(s.days_of(2024, 3), vec![(1, 0.0)]);
        assert_eq!(s.months_of(2024), vec![(2, 1.5), (3, 0.0)]);
        assert!(s.days_of(2024, 13).is_empty());
        assert!(s.months_of(-5).is_empty());
        s.clear();
        assert!(s.months_of(2024).is_empty());
    }
}
