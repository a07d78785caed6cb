//! The firmware's time-zone index table (0–109, kasa-protocol.md §8.4) as the emulator uses
//! it: `time.get_time` reports local time in the zone of the current index.
//!
//! The emulator depends on `plugctl-proto` only, so this is its own copy of the table the
//! client keeps in `plugctl_client::kasa::timezone`; a test in the CLI crate checks the two
//! agree entry by entry.

use jiff::{
    tz::{Offset, TimeZone},
    Timestamp,
};

/// The highest index.
pub const MAX_INDEX: i64 = 109;

/// `(IANA zone, standard UTC offset in minutes)` per index.
const ZONES: [(&str, i16); 110] = [
    ("Etc/GMT+12", -720),
    ("Etc/GMT+11", -660),
    ("Pacific/Honolulu", -600),
    ("America/Anchorage", -540),
    ("America/Tijuana", -480),
    ("Etc/GMT+8", -480),
    ("America/Los_Angeles", -480),
    ("America/Phoenix", -420),
    ("America/Mazatlan", -420),
    ("Etc/GMT+7", -420),
    ("America/Denver", -420),
    ("America/Guatemala", -360),
    ("Etc/GMT+6", -360),
    ("America/Chicago", -360),
    ("America/Mexico_City", -360),
    ("America/Regina", -360),
    ("America/Bogota", -300),
    ("Etc/GMT+5", -300),
    ("America/New_York", -300),
    ("America/Indiana/Indianapolis", -300),
    ("America/Caracas", -240),
    ("America/Asuncion", -180),
    ("Etc/GMT+4", -240),
    ("America/Halifax", -240),
    ("America/Cuiaba", -240),
    ("America/Manaus", -240),
    ("America/Santiago", -240),
    ("America/St_Johns", -210),
    ("America/Sao_Paulo", -180),
    ("America/Argentina/Buenos_Aires", -180),
    ("America/Cayenne", -180),
    ("America/Miquelon", -180),
    ("America/Montevideo", -180),
    ("America/Santiago", -240),
    ("Etc/GMT+2", -120),
    ("Atlantic/Azores", -60),
    ("Atlantic/Cape_Verde", -60),
    ("Africa/Casablanca", 60),
    ("Etc/UTC", 0),
    ("Europe/London", 0),
    ("Africa/Monrovia", 0),
    ("Europe/Berlin", 60),
    ("Europe/Belgrade", 60),
    ("Europe/Paris", 60),
    ("Europe/Warsaw", 60),
    ("Africa/Lagos", 60),
    ("Africa/Windhoek", 120),
    ("Asia/Amman", 180),
    ("Europe/Athens", 120),
    ("Asia/Beirut", 120),
    ("Africa/Cairo", 120),
    ("Asia/Damascus", 180),
    ("EET", 120),
    ("Africa/Johannesburg", 120),
    ("Europe/Helsinki", 120),
    ("Europe/Istanbul", 180),
    ("Asia/Jerusalem", 120),
    ("Europe/Kaliningrad", 120),
    ("Africa/Tripoli", 120),
    ("Asia/Baghdad", 180),
    ("Asia/Riyadh", 180),
    ("Europe/Minsk", 180),
    ("Europe/Moscow", 180),
    ("Africa/Nairobi", 180),
    ("Asia/Tehran", 210),
    ("Asia/Dubai", 240),
    ("Asia/Baku", 240),
    ("Europe/Samara", 240),
    ("Indian/Mauritius", 240),
    ("Asia/Tbilisi", 240),
    ("Asia/Yerevan", 240),
    ("Asia/Kabul", 270),
    ("Asia/Ashgabat", 300),
    ("Asia/Yekaterinburg", 300),
    ("Asia/Karachi", 300),
    ("Asia/Kolkata", 330),
    ("Asia/Colombo", 330),
    ("Asia/Kathmandu", 345),
    ("Asia/Almaty", 300),
    ("Asia/Dhaka", 360),
    ("Asia/Novosibirsk", 420),
    ("Asia/Yangon", 390),
    ("Asia/Bangkok", 420),
    ("Asia/Krasnoyarsk", 420),
    ("Asia/Shanghai", 480),
    ("Asia/Irkutsk", 480),
    ("Asia/Singapore", 480),
    ("Australia/Perth", 480),
    ("Asia/Taipei", 480),
    ("Asia/Ulaanbaatar", 480),
    ("Asia/Tokyo", 540),
    ("Asia/Seoul", 540),
    ("Asia/Yakutsk", 540),
    ("Australia/Adelaide", 570),
    ("Australia/Darwin", 570),
    ("Australia/Brisbane", 600),
    ("Australia/Sydney", 600),
    ("Pacific/Guam", 600),
    ("Australia/Hobart", 600),
    ("Asia/Vladivostok", 600),
    ("Asia/Magadan", 660),
    ("Asia/Srednekolymsk", 660),
    ("Pacific/Guadalcanal", 660),
    ("Asia/Kamchatka", 720),
    ("Pacific/Auckland", 720),
    ("Etc/GMT-12", 720),
    ("Pacific/Fiji", 720),
    ("Pacific/Tongatapu", 780),
    ("Pacific/Apia", 780),
    ("Pacific/Kiritimati", 840),
];

/// The IANA name of zone `index`, or `None` outside 0–109.
pub fn zone_name(index: i64) -> Option<&'static str> {
    usize::try_from(index).ok().and_then(|i| ZONES.get(i)).map(|(name, _)| *name)
}

/// The zone of `index` (the IANA zone, or its standard offset if the host's database lacks
/// the name); UTC outside 0–109.
pub(crate) fn time_zone(index: i64) -> TimeZone {
    let Some((name, std_min)) = usize::try_from(index).ok().and_then(|i| ZONES.get(i)) else {
        return TimeZone::UTC;
    };
    TimeZone::get(name).unwrap_or_else(|_| {
        Offset::from_seconds(i32::from(*std_min) * 60).map(TimeZone::fixed).unwrap_or(TimeZone::UTC)
    })
}

/// The index a new device reports: the host's zone by name, else the first zone with the
/// host zone's offsets on the 1st and 15th of every month this year, else the first with
/// its current offset, else 38 (UTC). So by default a device's local time is the host's.
pub(crate) fn default_index(host: &TimeZone) -> i64 {
    const UTC_INDEX: i64 = 38;
    if let Some(name) = host.iana_name() {
        if let Some(i) = ZONES.iter().position(|(z, _)| z.eq_ignore_ascii_case(name)) {
            return i64::try_from(i).unwrap_or(UTC_INDEX);
        }
    }
    let now = Timestamp::now();
    let year = now.to_zoned(TimeZone::UTC).year();
    let samples: Vec<Timestamp> = (1..=12)
        .flat_map(|m| [1, 15].map(move |d| (m, d)))
        .filter_map(|(m, d)| jiff::civil::date(year, m, d).at(12, 0, 0, 0).to_zoned(TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .collect();
    let same = |tz: &TimeZone, at: &[Timestamp]| at.iter().all(|t| tz.to_offset(*t) == host.to_offset(*t));
    let found = (0..=MAX_INDEX)
        .find(|i| same(&time_zone(*i), &samples))
        .or_else(|| (0..=MAX_INDEX).find(|i| same(&time_zone(*i), &[now])));
    found.unwrap_or(UTC_INDEX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_defaults() {
        assert_eq!(zone_name(6), Some("America/Los_Angeles"));
        assert_eq!(zone_name(110), None);
        assert_eq!(default_index(&TimeZone::UTC), 38);
        assert_eq!(default_index(&TimeZone::get("Europe/Berlin").unwrap()), 41);
        assert_eq!(default_index(&TimeZone::get("Europe/Rome").unwrap()), 41);
        assert_eq!(default_index(&TimeZone::get("America/Vancouver").unwrap()), 4);
        for i in 0..=MAX_INDEX {
            assert!(TimeZone::get(zone_name(i).unwrap()).is_ok(), "{i}");
        }
        assert_eq!(time_zone(-1), TimeZone::UTC);
    }
}
