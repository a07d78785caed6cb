//! Client-side encoders of the Reco control commands on TCP 8899 (hf-protocol.md §2):
//! `AT+YZSWITCH=<outlet>,ON|OFF,<timestamp>`, `AT+YZOUT`,
//! `AT+YZDELAY=<outlet>,ON|OFF,<minutes>,<timestamp>`, each terminated by `\r\n`.
//!
//! The timestamp is the client's local time as 12 digits `YYYYMMDDHHMM`; it is passed in as
//! a value (this crate reads no clock).

use std::fmt;
use std::num::NonZeroU16;

use crate::hf::text::{all_digits, preview};

/// What an encoded command ends with (the Maginon app, node-reco, LEHome; §1.2).
pub const TERMINATOR: &str = "\r\n";

/// Shortest delay `AT+YZDELAY` accepts, in minutes (0 is never sent: clients use
/// `AT+YZSWITCH` instead).
pub const MIN_DELAY_MINUTES: u16 = 1;

/// Longest delay `AT+YZDELAY` accepts, in minutes ("最大2000", §2.4).
pub const MAX_DELAY_MINUTES: u16 = 2000;

/// A command argument that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Outlets are numbered from 1.
    #[error("outlet 0 does not exist: outlets are numbered from 1")]
    OutletZero,
    /// The delay is outside [`MIN_DELAY_MINUTES`]..=[`MAX_DELAY_MINUTES`].
    #[error("a delay of {0} minutes is outside the device's 1..=2000 minute range")]
    DelayOutOfRange(u32),
    /// A date or time part is out of range.
    #[error("timestamp {field} {value} is out of range ({range})")]
    TimestampOutOfRange {
        /// `year`, `month`, `day`, `hour`, `minute` or `second`.
        field: &'static str,
        /// The rejected value.
        value: u16,
        /// The accepted range, for the message.
        range: &'static str,
    },
    /// A timestamp string is not 12 or 14 digits.
    #[error("timestamp {0:?} is not 12 (YYYYMMDDHHMM) or 14 (YYYYMMDDHHMMSS) digits")]
    TimestampFormat(String),
}

/// An outlet ("slot") number, 1 for the single-outlet plug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Outlet(NonZeroU16);

impl Outlet {
    /// Outlet 1, the only one of the SP-2 and what every known client sends.
    pub const FIRST: Outlet = Outlet(NonZeroU16::MIN);

    /// Outlet `n`; fails for 0.
    pub fn new(n: u16) -> Result<Self, CommandError> {
        NonZeroU16::new(n).map(Self).ok_or(CommandError::OutletZero)
    }

    /// The outlet number (≥ 1).
    pub fn get(self) -> u16 {
        self.0.get()
    }
}

impl Default for Outlet {
    fn default() -> Self {
        Self::FIRST
    }
}

impl fmt::Display for Outlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A validated `AT+YZDELAY` countdown, 1..=2000 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DelayMinutes(u16);

impl DelayMinutes {
    /// Checks `minutes` against the 1..=2000 limit.
    pub fn new(minutes: u32) -> Result<Self, CommandError> {
        match u16::try_from(minutes) {
            Ok(m) if (MIN_DELAY_MINUTES..=MAX_DELAY_MINUTES).contains(&m) => Ok(Self(m)),
            _ => Err(CommandError::DelayOutOfRange(minutes)),
        }
    }

    /// The delay in minutes.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for DelayMinutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A client timestamp, written as the 12 digits `YYYYMMDDHHMM` (§2.2).
///
/// Built from date parts the caller supplies (its local time); the calendar is checked
/// (month lengths, leap years) so a client never sends an impossible date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
}

impl Timestamp {
    /// A timestamp from local date and time parts: year 0..=9999, month 1..=12, day within
    /// the month, hour 0..=23, minute 0..=59.
    pub fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8) -> Result<Self, CommandError> {
        let out = |field, value: u8, range| CommandError::TimestampOutOfRange {
            field,
            value: u16::from(value),
            range,
        };
        if year > 9999 {
            return Err(CommandError::TimestampOutOfRange { field: "year", value: year, range: "0..=9999" });
        }
        if !(1..=12).contains(&month) {
            return Err(out("month", month, "1..=12"));
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err(out("day", day, "1..=28/29/30/31 depending on the month"));
        }
        if hour > 23 {
            return Err(out("hour", hour, "0..=23"));
        }
        if minute > 59 {
            return Err(out("minute", minute, "0..=59"));
        }
        Ok(Self { year, month, day, hour, minute })
    }

    /// Parses the 12-digit form, or LEHome's 14-digit `YYYYMMDDHHMMSS` (the seconds are
    /// checked, then dropped). Useful to record a "last client time" from a request.
    pub fn parse(s: &str) -> Result<Self, CommandError> {
        if !all_digits(s) || (s.len() != 12 && s.len() != 14) {
            return Err(CommandError::TimestampFormat(preview(s)));
        }
        let num = |from: usize, to: usize| -> Result<u16, CommandError> {
            s.get(from..to)
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| CommandError::TimestampFormat(preview(s)))
        };
        let small = |from, to| num(from, to).map(|v| u8::try_from(v).unwrap_or(u8::MAX));
        if s.len() == 14 {
            let second = num(12, 14)?;
            if second > 59 {
                return Err(CommandError::TimestampOutOfRange {
                    field: "second",
                    value: second,
                    range: "0..=59",
                });
            }
        }
        Self::new(num(0, 4)?, small(4, 6)?, small(6, 8)?, small(8, 10)?, small(10, 12)?)
    }

    /// Year.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// Month, 1..=12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// Day of the month, 1..=31.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// Hour, 0..=23.
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// Minute, 0..=59.
    pub fn minute(&self) -> u8 {
        self.minute
    }
}

impl fmt::Display for Timestamp {
    /// `YYYYMMDDHHMM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}{:02}{:02}{:02}{:02}", self.year, self.month, self.day, self.hour, self.minute)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        _ => 31,
    }
}

/// `ON` or `OFF`, as every capture shows.
pub fn on_off(on: bool) -> &'static str {
    if on {
        "ON"
    } else {
        "OFF"
    }
}

/// A control command a client sends on TCP 8899.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `AT+YZSWITCH=<outlet>,ON|OFF,<timestamp>`: switch now.
    Switch {
        /// The outlet.
        outlet: Outlet,
        /// Target relay state.
        on: bool,
        /// Client local time.
        timestamp: Timestamp,
    },
    /// `AT+YZOUT`: read the meter.
    Measure,
    /// `AT+YZDELAY=<outlet>,ON|OFF,<minutes>,<timestamp>`: switch after a countdown.
    Delay {
        /// The outlet.
        outlet: Outlet,
        /// Relay state to set when the countdown ends.
        on: bool,
        /// The countdown.
        minutes: DelayMinutes,
        /// Client local time.
        timestamp: Timestamp,
    },
}

impl Command {
    /// The command text without terminator, e.g. `AT+YZSWITCH=1,ON,201704031153`.
    pub fn line(&self) -> String {
        self.to_string()
    }

    /// The bytes to send: the command and `\r\n`, to be written in one segment (the device
    /// takes one segment as one command, §1.2).
    pub fn encode(&self) -> String {
        format!("{self}{TERMINATOR}")
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Switch { outlet, on, timestamp } => {
                write!(f, "AT+YZSWITCH={outlet},{},{timestamp}", on_off(*on))
            }
            Self::Measure => f.write_str("AT+YZOUT"),
            Self::Delay { outlet, on, minutes, timestamp } => {
                write!(f, "AT+YZDELAY={outlet},{},{minutes},{timestamp}", on_off(*on))
            }
        }
    }
}

/// `AT+YZSWITCH=<outlet>,ON|OFF,<timestamp>\r\n`.
pub fn switch(outlet: Outlet, on: bool, timestamp: Timestamp) -> String {
    Command::Switch { outlet, on, timestamp }.encode()
}

/// `AT+YZOUT\r\n`.
pub fn measure() -> String {
    Command::Measure.encode()
}

/// `AT+YZDELAY=<outlet>,ON|OFF,<minutes>,<timestamp>\r\n`; fails unless
/// 1 ≤ `minutes` ≤ 2000.
pub fn delay(outlet: Outlet, on: bool, minutes: u32, timestamp: Timestamp) -> Result<String, CommandError> {
    Ok(Command::Delay { outlet, on, minutes: DelayMinutes::new(minutes)?, timestamp }.encode())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn switch_vectors_are_byte_exact() {
        // §2.2 / §5.6: 41 54 2B … 33 0D 0A, 31 bytes
        let wire = switch(Outlet::FIRST, true, ts("201704031153"));
        let hex =
            "41 54 2B 59 5A 53 57 49 54 43 48 3D 31 2C 4F 4E 2C 32 30 31 37 30 34 30 33 31 31 35 33 0D 0A";
        let want: Vec<u8> = hex.split(' ').map(|h| u8::from_str_radix(h, 16).unwrap()).collect();
        assert_eq!(wire.as_bytes(), want);
        assert_eq!(wire.len(), 31);
        // blog part 3 (Maginon app)
        assert_eq!(switch(Outlet::FIRST, true, ts("201410292146")), "AT+YZSWITCH=1,ON,201410292146\r\n");
        assert_eq!(switch(Outlet::FIRST, false, ts("201704031153")), "AT+YZSWITCH=1,OFF,201704031153\r\n");
        // the capture sends no terminator: that is `line()`
        let cmd = Command::Switch { outlet: Outlet::FIRST, on: true, timestamp: ts("201704031153") };
        assert_eq!(cmd.line(), "AT+YZSWITCH=1,ON,201704031153");
    }

    #[test]
    fn measure_and_delay_vectors() {
        assert_eq!(measure().as_bytes(), b"\x41\x54\x2B\x59\x5A\x4F\x55\x54\x0D\x0A");
        // §5.6: 41 54 2B 59 5A 44 45 4C 41 59 3D 31 2C 4F 4E 2C 35 2C 32 30 31 38 30 35 30 31 31 32 30 30 0D 0A
        let d = delay(Outlet::FIRST, true, 5, ts("201805011200")).unwrap();
        assert_eq!(d, "AT+YZDELAY=1,ON,5,201805011200\r\n");
        assert_eq!(d.len(), 32);
        assert_eq!(
            delay(Outlet::new(2).unwrap(), false, 2000, ts("201805011200")).unwrap(),
            "AT+YZDELAY=2,OFF,2000,201805011200\r\n"
        );
    }

    #[test]
    fn delay_limits_are_typed_errors() {
        let t = ts("201805011200");
        for m in [0, 2001, 65536 + 5, u32::MAX] {
            let e = delay(Outlet::FIRST, true, m, t).unwrap_err();
            assert_eq!(e, CommandError::DelayOutOfRange(m));
        }
        assert_eq!(
            DelayMinutes::new(0).unwrap_err().to_string(),
            "a delay of 0 minutes is outside the device's 1..=2000 minute range"
        );
        assert_eq!(DelayMinutes::new(1).unwrap().get(), 1);
        assert_eq!(Outlet::new(0), Err(CommandError::OutletZero));
        assert_eq!(Outlet::new(3).unwrap().get(), 3);
        assert_eq!(Outlet::default(), Outlet::FIRST);
    }

    #[test]
    fn timestamps() {
        assert_eq!(Timestamp::new(2017, 4, 3, 11, 53).unwrap().to_string(), "201704031153");
        assert_eq!(Timestamp::new(5, 1, 1, 0, 0).unwrap().to_string(), "000501010000");
        assert_eq!(Timestamp::new(2024, 2, 29, 23, 59).unwrap().to_string(), "202402292359");
        assert!(Timestamp::new(2023, 2, 29, 0, 0).is_err());
        assert!(Timestamp::new(1900, 2, 29, 0, 0).is_err());
        assert!(Timestamp::new(2000, 2, 29, 0, 0).is_ok());
        assert!(Timestamp::new(2024, 4, 31, 0, 0).is_err());
        assert!(Timestamp::new(2024, 13, 1, 0, 0).is_err());
        assert!(Timestamp::new(2024, 0, 1, 0, 0).is_err());
        assert!(Timestamp::new(2024, 1, 0, 0, 0).is_err());
        assert!(Timestamp::new(2024, 1, 1, 24, 0).is_err());
        assert!(Timestamp::new(10000, 1, 1, 0, 0).is_err());
        let e = Timestamp::new(2024, 1, 1, 0, 60).unwrap_err();
        assert_eq!(e.to_string(), "timestamp minute 60 is out of range (0..=59)");
        // LEHome's 14 digits: seconds checked and dropped
        let t = Timestamp::parse("20140712143012").unwrap();
        assert_eq!((t.year(), t.month(), t.day(), t.hour(), t.minute()), (2014, 7, 12, 14, 30));
        assert!(Timestamp::parse("20140712143060").is_err());
        for bad in ["", "time", "2018AugMon1640", "2017040311", "2017040311531", "+01704031153", "２０１７"]
        {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Timestamp::parse("time").unwrap_err().to_string(),
            "timestamp \"time\" is not 12 (YYYYMMDDHHMM) or 14 (YYYYMMDDHHMMSS) digits"
        );
    }

    proptest! {
        #[test]
        fn timestamp_round_trip(y in 0u16..=9999, mo in 1u8..=12, d in 1u8..=31, h in 0u8..=23, mi in 0u8..=59) {
            if let Ok(t) = Timestamp::new(y, mo, d, h, mi) {
                prop_assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
            } else {
                prop_assert!(d > 28);
            }
        }

        #[test]
        fn timestamp_parse_never_panics(s in "\\PC{0,16}") {
            let _ = Timestamp::parse(&s);
        }
    }
}
