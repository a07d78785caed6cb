//! The firmware's time-zone table (kasa-protocol.md §8.4): `time.get_timezone` reports, and
//! `time.set_timezone` takes, an `index` 0–109 into a fixed list of zones that follows the
//! Windows zone list of its time. The device keeps its clock as *local* time in that zone.
//!
//! [`ZONES`] maps every index to an IANA zone with the same UTC offsets and daylight-saving
//! rules, a short description, and the zone's standard UTC offset (used only if the host's
//! time-zone database lacks the IANA name). Where the firmware table has two entries with
//! the same rules (26 and 33, both Chile), [`index_for_zone`] picks the lower index.
//!
//! [`index_for_zone`] goes the other way: an exact IANA name first, then any table zone
//! with the same offset on every day of the year, then (flagged as inexact) one with the
//! same offset right now.

use jiff::{
    tz::{Offset, TimeZone},
    Timestamp, ToSpan,
};

/// The highest zone index the firmware knows.
pub const MAX_INDEX: u8 = 109;

/// The index factory-fresh plugs report (US Pacific).
pub const FACTORY_INDEX: u8 = 6;

/// One entry of the firmware zone table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone {
    /// The firmware index.
    pub index: u8,
    /// An IANA zone with the same offsets and DST rules.
    pub iana: &'static str,
    /// What the zone covers.
    pub description: &'static str,
    /// Standard (non-DST) UTC offset in minutes, as a fallback when the IANA name cannot be
    /// loaded.
    pub std_offset_min: i16,
}

impl Zone {
    /// The zone as a jiff [`TimeZone`]: the IANA zone from the host's database, or a fixed
    /// offset of [`std_offset_min`](Self::std_offset_min) if the name is unknown there.
    pub fn time_zone(&self) -> TimeZone {
        TimeZone::get(self.iana).unwrap_or_else(|_| {
            let secs = i32::from(self.std_offset_min) * 60;
            Offset::from_seconds(secs).map(TimeZone::fixed).unwrap_or(TimeZone::UTC)
        })
    }
}

const fn z(index: u8, iana: &'static str, std_offset_min: i16, description: &'static str) -> Zone {
    Zone { index, iana, description, std_offset_min }
}

/// The firmware's zone table, indexed by zone index (`ZONES[i].index == i`).
pub const ZONES: [Zone; 110] = [
    z(0, "Etc/GMT+12", -720, "International Date Line West"),
    z(1, "Etc/GMT+11", -660, "UTC-11"),
    z(2, "Pacific/Honolulu", -600, "Hawaii"),
    z(3, "America/Anchorage", -540, "Alaska"),
    z(4, "America/Tijuana", -480, "Baja California"),
    z(5, "Etc/GMT+8", -480, "Pacific Standard Time, no daylight saving"),
    z(6, "America/Los_Angeles", -480, "Pacific Time (US & Canada)"),
    z(7, "America/Phoenix", -420, "Arizona"),
    z(8, "America/Mazatlan", -420, "Chihuahua, La Paz, Mazatlan"),
    z(9, "Etc/GMT+7", -420, "Mountain Standard Time, no daylight saving"),
    z(10, "America/Denver", -420, "Mountain Time (US & Canada)"),
    z(11, "America/Guatemala", -360, "Central America"),
    z(12, "Etc/GMT+6", -360, "Central Standard Time, no daylight saving"),
    z(13, "America/Chicago", -360, "Central Time (US & Canada)"),
    z(14, "America/Mexico_City", -360, "Guadalajara, Mexico City, Monterrey"),
    z(15, "America/Regina", -360, "Saskatchewan"),
    z(16, "America/Bogota", -300, "Bogota, Lima, Quito"),
    z(17, "Etc/GMT+5", -300, "Eastern Standard Time, no daylight saving"),
    z(18, "America/New_York", -300, "Eastern Time (US & Canada)"),
    z(19, "America/Indiana/Indianapolis", -300, "Indiana (East)"),
    z(20, "America/Caracas", -240, "Caracas"),
    z(21, "America/Asuncion", -180, "Asuncion"),
    z(22, "Etc/GMT+4", -240, "Atlantic Standard Time, no daylight saving"),
    z(23, "America/Halifax", -240, "Atlantic Time (Canada)"),
    z(24, "America/Cuiaba", -240, "Cuiaba"),
    z(25, "America/Manaus", -240, "Georgetown, La Paz, Manaus, San Juan"),
    z(26, "America/Santiago", -240, "Santiago"),
    z(27, "America/St_Johns", -210, "Newfoundland"),
    z(28, "America/Sao_Paulo", -180, "Brasilia"),
    z(29, "America/Argentina/Buenos_Aires", -180, "Buenos Aires"),
    z(30, "America/Cayenne", -180, "Cayenne, Fortaleza"),
    z(31, "America/Miquelon", -180, "Saint Pierre and Miquelon"),
    z(32, "America/Montevideo", -180, "Montevideo"),
    z(33, "America/Santiago", -240, "Santiago (second entry)"),
    z(34, "Etc/GMT+2", -120, "UTC-02"),
    z(35, "Atlantic/Azores", -60, "Azores"),
    z(36, "Atlantic/Cape_Verde", -60, "Cape Verde Is."),
    z(37, "Africa/Casablanca", 60, "Casablanca"),
    z(38, "Etc/UTC", 0, "Coordinated Universal Time"),
    z(39, "Europe/London", 0, "Dublin, Edinburgh, Lisbon, London"),
    z(40, "Africa/Monrovia", 0, "Monrovia, Reykjavik"),
    z(41, "Europe/Berlin", 60, "Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"),
    z(42, "Europe/Belgrade", 60, "Belgrade, Bratislava, Budapest, Ljubljana, Prague"),
    z(43, "Europe/Paris", 60, "Brussels, Copenhagen, Madrid, Paris"),
    z(44, "Europe/Warsaw", 60, "Sarajevo, Skopje, Warsaw, Zagreb"),
    z(45, "Africa/Lagos", 60, "West Central Africa"),
    z(46, "Africa/Windhoek", 120, "Windhoek"),
    z(47, "Asia/Amman", 180, "Amman"),
    z(48, "Europe/Athens", 120, "Athens, Bucharest"),
    z(49, "Asia/Beirut", 120, "Beirut"),
    z(50, "Africa/Cairo", 120, "Cairo"),
    z(51, "Asia/Damascus", 180, "Damascus"),
    z(52, "EET", 120, "Eastern Europe"),
    z(53, "Africa/Johannesburg", 120, "Harare, Pretoria"),
    z(54, "Europe/Helsinki", 120, "Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius"),
    z(55, "Europe/Istanbul", 180, "Istanbul"),
    z(56, "Asia/Jerusalem", 120, "Jerusalem"),
    z(57, "Europe/Kaliningrad", 120, "Kaliningrad"),
    z(58, "Africa/Tripoli", 120, "Tripoli"),
    z(59, "Asia/Baghdad", 180, "Baghdad"),
    z(60, "Asia/Riyadh", 180, "Kuwait, Riyadh"),
    z(61, "Europe/Minsk", 180, "Minsk"),
    z(62, "Europe/Moscow", 180, "Moscow, St. Petersburg"),
    z(63, "Africa/Nairobi", 180, "Nairobi"),
    z(64, "Asia/Tehran", 210, "Tehran"),
    z(65, "Asia/Dubai", 240, "Abu Dhabi, Muscat"),
    z(66, "Asia/Baku", 240, "Baku"),
    z(67, "Europe/Samara", 240, "Izhevsk, Samara"),
    z(68, "Indian/Mauritius", 240, "Port Louis"),
    z(69, "Asia/Tbilisi", 240, "Tbilisi"),
    z(70, "Asia/Yerevan", 240, "Yerevan"),
    z(71, "Asia/Kabul", 270, "Kabul"),
    z(72, "Asia/Ashgabat", 300, "Ashgabat, Tashkent"),
    z(73, "Asia/Yekaterinburg", 300, "Ekaterinburg"),
    z(74, "Asia/Karachi", 300, "Islamabad, Karachi"),
    z(75, "Asia/Kolkata", 330, "Chennai, Kolkata, Mumbai, New Delhi"),
    z(76, "Asia/Colombo", 330, "Sri Jayawardenepura"),
    z(77, "Asia/Kathmandu", 345, "Kathmandu"),
    z(78, "Asia/Almaty", 300, "Astana"),
    z(79, "Asia/Dhaka", 360, "Dhaka"),
    z(80, "Asia/Novosibirsk", 420, "Novosibirsk"),
    z(81, "Asia/Yangon", 390, "Yangon (Rangoon)"),
    z(82, "Asia/Bangkok", 420, "Bangkok, Hanoi, Jakarta"),
    z(83, "Asia/Krasnoyarsk", 420, "Krasnoyarsk"),
    z(84, "Asia/Shanghai", 480, "Beijing, Chongqing, Hong Kong, Urumqi"),
    z(85, "Asia/Irkutsk", 480, "Irkutsk"),
    z(86, "Asia/Singapore", 480, "Kuala Lumpur, Singapore"),
    z(87, "Australia/Perth", 480, "Perth"),
    z(88, "Asia/Taipei", 480, "Taipei"),
    z(89, "Asia/Ulaanbaatar", 480, "Ulaanbaatar"),
    z(90, "Asia/Tokyo", 540, "Osaka, Sapporo, Tokyo"),
    z(91, "Asia/Seoul", 540, "Seoul"),
    z(92, "Asia/Yakutsk", 540, "Yakutsk"),
    z(93, "Australia/Adelaide", 570, "Adelaide"),
    z(94, "Australia/Darwin", 570, "Darwin"),
    z(95, "Australia/Brisbane", 600, "Brisbane"),
    z(96, "Australia/Sydney", 600, "Canberra, Melbourne, Sydney"),
    z(97, "Pacific/Guam", 600, "Guam, Port Moresby"),
    z(98, "Australia/Hobart", 600, "Hobart"),
    z(99, "Asia/Vladivostok", 600, "Vladivostok"),
    z(100, "Asia/Magadan", 660, "Magadan"),
    z(101, "Asia/Srednekolymsk", 660, "Chokurdakh"),
    z(102, "Pacific/Guadalcanal", 660, "Solomon Is., New Caledonia"),
    z(103, "Asia/Kamchatka", 720, "Anadyr, Petropavlovsk-Kamchatsky"),
    z(104, "Pacific/Auckland", 720, "Auckland, Wellington"),
    z(105, "Etc/GMT-12", 720, "UTC+12"),
    z(106, "Pacific/Fiji", 720, "Fiji"),
    z(107, "Pacific/Tongatapu", 780, "Nuku'alofa"),
    z(108, "Pacific/Apia", 780, "Samoa"),
    z(109, "Pacific/Kiritimati", 840, "Kiritimati Island"),
];

/// The table entry of `index`, or `None` outside 0–109.
pub fn zone(index: i64) -> Option<&'static Zone> {
    usize::try_from(index).ok().and_then(|i| ZONES.get(i))
}

/// How well a zone index matches the zone asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The table names this very IANA zone.
    Name,
    /// A table zone has the same UTC offset on every day of the year.
    Rules,
    /// Only the current UTC offset is the same; daylight saving may switch on other dates.
    OffsetNow,
}

/// The result of [`index_for_zone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneMatch {
    /// The table entry chosen.
    pub zone: &'static Zone,
    /// How good the match is.
    pub fit: Fit,
}

/// No entry of the firmware table has the zone's current UTC offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no firmware time zone has the UTC offset of {name} ({offset}); pick one with --index 0-109")]
pub struct NoMatchingZone {
    /// The zone asked for.
    pub name: String,
    /// Its current UTC offset.
    pub offset: String,
}

/// Finds the firmware index for `tz` (see the module docs). `now` is the instant whose year
/// is compared and whose offset decides an [`Fit::OffsetNow`] match.
pub fn index_for_zone(tz: &TimeZone, now: Timestamp) -> Result<ZoneMatch, NoMatchingZone> {
    if let Some(name) = tz.iana_name() {
        if let Some(zone) = ZONES.iter().find(|z| z.iana.eq_ignore_ascii_case(name)) {
            return Ok(ZoneMatch { zone, fit: Fit::Name });
        }
    }
    let samples = year_samples(now);
    let wanted: Vec<Offset> = samples.iter().map(|t| tz.to_offset(*t)).collect();
    let candidates: Vec<(&'static Zone, TimeZone)> = ZONES.iter().map(|z| (z, z.time_zone())).collect();
    if let Some((zone, _)) =
        candidates.iter().find(|(_, c)| samples.iter().zip(&wanted).all(|(t, w)| c.to_offset(*t) == *w))
    {
        return Ok(ZoneMatch { zone, fit: Fit::Rules });
    }
    let offset_now = tz.to_offset(now);
    candidates
        .iter()
        .find(|(_, c)| c.to_offset(now) == offset_now)
        .map(|(zone, _)| ZoneMatch { zone, fit: Fit::OffsetNow })
        .ok_or_else(|| NoMatchingZone {
            name: tz.iana_name().unwrap_or("the zone").to_string(),
            offset: offset_now.to_string(),
        })
}

/// Noon UTC of every day of `now`'s (UTC) year.
fn year_samples(now: Timestamp) -> Vec<Timestamp> {
    let year = now.to_zoned(TimeZone::UTC).year();
    let Ok(start) = jiff::civil::date(year, 1, 1).at(12, 0, 0, 0).to_zoned(TimeZone::UTC) else {
        return vec![now];
    };
    (0..366)
        .filter_map(|d| start.checked_add(i64::from(d).days()).ok())
        .filter(|t| t.year() == year)
        .map(|t| t.timestamp())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn table_is_dense_and_every_zone_loads() {
        for (i, z) in ZONES.iter().enumerate() {
            assert_eq!(usize::from(z.index), i);
            assert!(TimeZone::get(z.iana).is_ok(), "{} is not in the host's tz database", z.iana);
        }
        assert_eq!(zone(6).map(|z| z.iana), Some("America/Los_Angeles"));
        assert!(zone(110).is_none() && zone(-1).is_none());
        assert_eq!(usize::from(MAX_INDEX) + 1, ZONES.len());
    }

    #[test]
    fn names_rules_and_offsets() {
        let m = index_for_zone(&TimeZone::get("Europe/Berlin").unwrap(), now()).unwrap();
        assert_eq!((m.zone.index, m.fit), (41, Fit::Name));
        // Same rules as Berlin, different name.
        let m = index_for_zone(&TimeZone::get("Europe/Rome").unwrap(), now()).unwrap();
        assert_eq!((m.zone.index, m.fit), (41, Fit::Rules));
        let m = index_for_zone(&TimeZone::UTC, now()).unwrap();
        assert_eq!(m.zone.index, 38);
        let m = index_for_zone(&TimeZone::get("America/Vancouver").unwrap(), now()).unwrap();
        assert_eq!((m.zone.index, m.fit), (4, Fit::Rules), "first zone with US Pacific rules");
        // Duplicate Chile entries: the lower index wins.
        let m = index_for_zone(&TimeZone::get("America/Santiago").unwrap(), now()).unwrap();
        assert_eq!(m.zone.index, 26);
        let m = index_for_zone(&TimeZone::fixed(Offset::from_seconds(3600).unwrap()), now()).unwrap();
        assert_eq!(m.fit, Fit::Rules, "a fixed +1 zone exists (West Central Africa)");
        let odd = TimeZone::fixed(Offset::from_seconds(3 * 3600 + 17 * 60).unwrap());
        assert!(index_for_zone(&odd, now()).is_err());
    }

    #[test]
    fn fallback_offset_when_the_name_is_unknown() {
        let z = Zone { index: 0, iana: "Nowhere/Special", description: "", std_offset_min: 330 };
        assert_eq!(z.time_zone().to_offset(now()).seconds(), 330 * 60);
    }
}
