//! # plugctl-sun
//!
//! Sunrise and sunset for sun-relative schedules: the emulator's `stime_opt`/`etime_opt` 1
//! and 2 rules (kasa-protocol.md §8.6) and the hub's `sunrise`/`sunset` rules. Pure
//! functions, no I/O.
//!
//! The equations are the NOAA solar calculator's (Meeus-derived:
//! geometric mean longitude and anomaly, equation of centre, apparent longitude, obliquity,
//! declination, equation of time) and the standard zenith of 90.833° (refraction plus the
//! sun's radius). Accurate to about a minute between ±65° latitude.
//!
//! [`sun_event`] gives the instant of sunrise or sunset of a date at a place;
//! [`default_location`] is the place to assume when none is known: the equator at the
//! longitude matching a zone's UTC offset, so sunrise is about 06:00 and sunset about 18:00
//! local time (± the equation of time, up to 16 minutes). The emulator uses it for devices
//! without a location.
//!
//! ```
//! use plugctl_sun::{sun_event, SunEvent};
//!
//! // Berlin, 21 June 2024: sunrise 04:43 CEST (02:43 UTC).
//! let rise = sun_event(jiff::civil::date(2024, 6, 21), 52.52, 13.405, SunEvent::Rise).unwrap();
//! assert_eq!(rise.to_zoned(jiff::tz::TimeZone::UTC).hour(), 2);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use jiff::{civil::Date, tz::TimeZone, Timestamp};

/// The standard sunrise/sunset zenith, degrees.
const ZENITH_DEG: f64 = 90.833;

/// Which sun event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SunEvent {
    /// The upper limb appears.
    Rise,
    /// The upper limb disappears.
    Set,
}

/// The instant of `event` on local date `date` at `lat`/`lon` (degrees, east and north
/// positive), or `None` when the sun does not rise or set that day (polar day or night).
///
/// "Local date" means the day whose solar noon at `lon` falls on `date`; for a zone that
/// matches its longitude this is the calendar date of the zone.
pub fn sun_event(date: Date, lat: f64, lon: f64, event: SunEvent) -> Option<Timestamp> {
    if !lat.is_finite() || !lon.is_finite() {
        return None;
    }
    let midnight = date.to_zoned(TimeZone::UTC).ok()?.timestamp();
    let jd0 = 2_440_587.5 + midnight.as_second() as f64 / 86_400.0;
    // Minutes after 00:00 UTC; start at solar noon and refine twice.
    let mut t = 720.0 - 4.0 * lon;
    for _ in 0..3 {
        let (decl, eq_time) = solar(jd0 + t / 1440.0);
        let ha = hour_angle(lat, decl)?;
        let ha = match event {
            SunEvent::Rise => ha,
            SunEvent::Set => -ha,
        };
        t = 720.0 - 4.0 * (lon + ha) - eq_time;
    }
    let ms = (t * 60_000.0).round();
    if !ms.is_finite() {
        return None;
    }
    midnight.checked_add(jiff::SignedDuration::from_millis(ms as i64)).ok()
}

/// Declination (radians) and equation of time (minutes) at Julian day `jd`.
fn solar(jd: f64) -> (f64, f64) {
    let jc = (jd - 2_451_545.0) / 36_525.0;
    let l0 = (280.466_46 + jc * (36_000.769_83 + jc * 0.000_303_2)).rem_euclid(360.0);
    let m = 357.529_11 + jc * (35_999.050_29 - 0.000_153_7 * jc);
    let e = 0.016_708_634 - jc * (0.000_042_037 + 0.000_000_126_7 * jc);
    let mr = m.to_radians();
    let c = mr.sin() * (1.914_602 - jc * (0.004_817 + 0.000_014 * jc))
        + (2.0 * mr).sin() * (0.019_993 - 0.000_101 * jc)
        + (3.0 * mr).sin() * 0.000_289;
    let omega = (125.04 - 1_934.136 * jc).to_radians();
    let lambda = (l0 + c - 0.005_69 - 0.004_78 * omega.sin()).to_radians();
    let eps0 = 23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.000_59 - jc * 0.001_813))) / 60.0) / 60.0;
    let eps = (eps0 + 0.002_56 * omega.cos()).to_radians();
    let decl = (eps.sin() * lambda.sin()).asin();
    let y = (eps / 2.0).tan().powi(2);
    let l0r = l0.to_radians();
    let eq_time = 4.0
        * (y * (2.0 * l0r).sin() - 2.0 * e * mr.sin() + 4.0 * e * y * mr.sin() * (2.0 * l0r).cos()
            - 0.5 * y * y * (4.0 * l0r).sin()
            - 1.25 * e * e * (2.0 * mr).sin())
        .to_degrees();
    (decl, eq_time)
}

/// The sunrise hour angle in degrees, or `None` if the sun stays above or below the horizon.
fn hour_angle(lat: f64, decl: f64) -> Option<f64> {
    let latr = lat.clamp(-89.99, 89.99).to_radians();
    let cos_ha = ZENITH_DEG.to_radians().cos() / (latr.cos() * decl.cos()) - latr.tan() * decl.tan();
    (-1.0..=1.0).contains(&cos_ha).then(|| cos_ha.acos().to_degrees())
}

/// The documented default location: the equator at the longitude of the zone's UTC offset
/// at `date` (15° per hour).
pub fn default_location(tz: &TimeZone, date: Date) -> (f64, f64) {
    let offset_s = date.to_zoned(tz.clone()).map(|z| z.offset().seconds()).unwrap_or(0);
    (0.0, (f64::from(offset_s) / 240.0).clamp(-180.0, 180.0))
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    /// Minutes after 00:00 UTC of `d` (may be negative for the previous UTC day).
    fn utc_min(d: Date, lat: f64, lon: f64, ev: SunEvent) -> f64 {
        let ts = sun_event(d, lat, lon, ev).expect("an event");
        let midnight = d.to_zoned(TimeZone::UTC).unwrap().timestamp();
        (ts.as_second() - midnight.as_second()) as f64 / 60.0
    }

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() <= 2.0, "got {got:.1} min, want {want} min (±2)");
    }

    #[test]
    fn known_sunrises_and_sunsets() {
        // Published almanac times (US Naval Observatory / timeanddate), converted to UTC.
        // London, summer solstice 2024: 04:43 and 21:21 BST.
        let d = date(2024, 6, 21);
        close(utc_min(d, 51.5074, -0.1278, SunEvent::Rise), 3.0 * 60.0 + 43.0);
        close(utc_min(d, 51.5074, -0.1278, SunEvent::Set), 20.0 * 60.0 + 21.0);
        // New York, winter solstice 2024: 07:16 and 16:32 EST.
        let d = date(2024, 12, 21);
        close(utc_min(d, 40.7128, -74.0060, SunEvent::Rise), 12.0 * 60.0 + 16.0);
        close(utc_min(d, 40.7128, -74.0060, SunEvent::Set), 21.0 * 60.0 + 32.0);
        // Sydney, 1 January 2024: 05:47 and 20:09 AEDT (UTC+11): the sunrise is the
        // previous UTC day.
        let d = date(2024, 1, 1);
        close(utc_min(d, -33.8688, 151.2093, SunEvent::Rise), -(24.0 * 60.0) + 18.0 * 60.0 + 47.0);
        close(utc_min(d, -33.8688, 151.2093, SunEvent::Set), 9.0 * 60.0 + 9.0);
    }

    #[test]
    fn polar_day_and_night_have_no_event() {
        // Tromsø (69.65° N): midnight sun in June, polar night in December.
        assert!(sun_event(date(2024, 6, 21), 69.65, 18.96, SunEvent::Set).is_none());
        assert!(sun_event(date(2024, 12, 21), 69.65, 18.96, SunEvent::Rise).is_none());
        assert!(sun_event(date(2024, 6, 21), f64::NAN, 0.0, SunEvent::Rise).is_none());
    }

    #[test]
    fn default_location_gives_six_and_eighteen_local() {
        let tz = TimeZone::fixed(jiff::tz::offset(2));
        let d = date(2024, 3, 20);
        let (lat, lon) = default_location(&tz, d);
        assert_eq!((lat, lon), (0.0, 30.0));
        let rise = sun_event(d, lat, lon, SunEvent::Rise).unwrap().to_zoned(tz.clone());
        let set = sun_event(d, lat, lon, SunEvent::Set).unwrap().to_zoned(tz);
        let m = |z: &jiff::Zoned| i32::from(z.hour()) * 60 + i32::from(z.minute());
        assert!((m(&rise) - 360).abs() <= 20, "{rise}");
        assert!((m(&set) - 1080).abs() <= 20, "{set}");
    }
}
