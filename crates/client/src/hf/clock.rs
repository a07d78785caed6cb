//! The local wall clock, for the timestamp argument of `AT+YZSWITCH` / `AT+YZDELAY`.

use plugctl_proto::hf::Timestamp;

/// The current local time (the system time zone; UTC if it cannot be determined), to the
/// minute.
pub(crate) fn local_now() -> Timestamp {
    from_zoned(&jiff::Zoned::now())
}

fn from_zoned(now: &jiff::Zoned) -> Timestamp {
    let small = |v: i8| u8::try_from(v).unwrap_or(0);
    let year = u16::try_from(now.year()).unwrap_or(0);
    Timestamp::new(year, small(now.month()), small(now.day()), small(now.hour()), small(now.minute()))
        .or_else(|_| Timestamp::new(2000, 1, 1, 0, 0))
        .unwrap_or_else(|_| unreachable!("2000-01-01 00:00 is a valid timestamp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_digits_of_local_time() {
        let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(1));
        let z = jiff::civil::date(2024, 2, 29).at(23, 7, 59, 0).to_zoned(tz).unwrap();
        assert_eq!(from_zoned(&z).to_string(), "202402292307");
        let now = local_now().to_string();
        assert_eq!(now.len(), 12);
        assert!(now.bytes().all(|b| b.is_ascii_digit()), "{now}");
    }
}
