//! The `AT+YZOUT` meter reading (hf-protocol.md §2.3): `+ok=I,U,F,P,PQ,E,EQ`, seven unsigned
//! decimal integers in wire units.
//!
//! | # | Name | Wire unit | Typed field |
//! |---|---|---|---|
//! | 1 | I | 0.01 A | [`Measurement::current_a`] |
//! | 2 | U | 0.01 V | [`Measurement::voltage_v`] |
//! | 3 | F | 0.01 Hz | [`Measurement::frequency_hz`] |
//! | 4 | P | 0.1 W | [`Measurement::power_w`] |
//! | 5 | PQ | unknown, always 0 | [`Measurement::reactive_power`] (raw) |
//! | 6 | E | 1 Wh | [`Measurement::energy_wh`] |
//! | 7 | EQ | unknown, always 0 | [`Measurement::reactive_energy`] (raw) |
//!
//! Values that do not fit in 32 bits are rejected (4 294 967 295 Wh ≈ 4.3 GWh).

use serde::Serialize;

use crate::hf::reply::{Reply, ReplyError};
use crate::hf::text::{all_digits, preview};

/// Number of fields in a `+ok=` meter reply.
pub const FIELD_COUNT: usize = 7;

/// The field names used by hf-protocol.md and both known clients, in wire order.
pub const FIELD_NAMES: [&str; FIELD_COUNT] = ["I", "U", "F", "P", "PQ", "E", "EQ"];

/// A meter reply that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeasurementError {
    /// The reply itself is garbage, empty or truncated (e.g. a bare `+ok=`).
    #[error("unparseable AT+YZOUT reply: {0}")]
    Reply(#[from] ReplyError),
    /// A well-formed reply that is not a value (`+ok`, `+ERROR`, `+ERR=…`).
    #[error("expected a +ok=I,U,F,P,PQ,E,EQ reply, got {0}")]
    Unexpected(Reply),
    /// The value after `+ok=` is empty.
    #[error("+ok= reply has no value")]
    Empty,
    /// Not exactly seven comma-separated fields.
    #[error("+ok= reply has {got} fields, expected 7")]
    FieldCount {
        /// Fields found.
        got: usize,
    },
    /// A field is not an unsigned decimal integer.
    #[error("field {index} ({name}) is not an unsigned integer: {value:?}")]
    NotANumber {
        /// 1-based position.
        index: usize,
        /// `I`, `U`, …
        name: &'static str,
        /// The field as received (shortened).
        value: String,
    },
    /// A field has more than 32 bits.
    #[error("field {index} ({name}) = {value} does not fit in 32 bits")]
    OutOfRange {
        /// 1-based position.
        index: usize,
        /// `I`, `U`, …
        name: &'static str,
        /// The digits as received (shortened).
        value: String,
    },
}

/// A meter reading in wire units, exactly as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct RawMeasurement {
    /// RMS current, 0.01 A.
    pub i: u32,
    /// RMS voltage, 0.01 V.
    pub u: u32,
    /// Mains frequency, 0.01 Hz.
    pub f: u32,
    /// Active power, 0.1 W.
    pub p: u32,
    /// Reactive power, unit unknown (0 in every capture).
    pub pq: u32,
    /// Cumulative active energy, Wh.
    pub e: u32,
    /// Reactive energy, unit unknown (0 in every capture).
    pub eq: u32,
}

impl RawMeasurement {
    /// Parses the CSV after `+ok=` (exactly seven unsigned integers, no spaces).
    pub fn parse_value(csv: &str) -> Result<Self, MeasurementError> {
        if csv.is_empty() {
            return Err(MeasurementError::Empty);
        }
        let got = csv.split(',').count();
        if got != FIELD_COUNT {
            return Err(MeasurementError::FieldCount { got });
        }
        let mut v = [0u32; FIELD_COUNT];
        for (index, (slot, field)) in v.iter_mut().zip(csv.split(',')).enumerate() {
            let name = FIELD_NAMES.get(index).copied().unwrap_or("?");
            let index = index + 1;
            if !all_digits(field) {
                return Err(MeasurementError::NotANumber { index, name, value: preview(field) });
            }
            *slot = field.parse().map_err(|_| MeasurementError::OutOfRange {
                index,
                name,
                value: preview(field),
            })?;
        }
        let [i, u, f, p, pq, e, eq] = v;
        Ok(Self { i, u, f, p, pq, e, eq })
    }

    /// The seven values in wire order.
    pub fn fields(&self) -> [u32; FIELD_COUNT] {
        [self.i, self.u, self.f, self.p, self.pq, self.e, self.eq]
    }

    /// `I,U,F,P,PQ,E,EQ`.
    pub fn to_value(&self) -> String {
        let [i, u, f, p, pq, e, eq] = self.fields();
        format!("{i},{u},{f},{p},{pq},{e},{eq}")
    }
}

/// A meter reading in SI units.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Measurement {
    /// RMS current, A (wire resolution 0.01 A).
    pub current_a: f64,
    /// RMS voltage, V (0.01 V).
    pub voltage_v: f64,
    /// Mains frequency, Hz (0.01 Hz).
    pub frequency_hz: f64,
    /// Active power, W (0.1 W).
    pub power_w: f64,
    /// Reactive power `PQ`, raw wire value: its unit is unknown and every capture shows 0.
    pub reactive_power: u32,
    /// Cumulative active energy, Wh (1 Wh).
    pub energy_wh: f64,
    /// Reactive energy `EQ`, raw wire value: its unit is unknown and every capture shows 0.
    pub reactive_energy: u32,
}

impl Measurement {
    /// Decodes a whole `AT+YZOUT` reply (`+ok=…`, trailing `\r\n` and a second line
    /// tolerated as by [`Reply::parse`]).
    pub fn parse(reply: &[u8]) -> Result<Self, MeasurementError> {
        match Reply::parse(reply)? {
            Reply::OkValue(v) => Self::parse_value(&v),
            other => Err(MeasurementError::Unexpected(other)),
        }
    }

    /// Decodes the CSV after `+ok=`.
    pub fn parse_value(csv: &str) -> Result<Self, MeasurementError> {
        RawMeasurement::parse_value(csv).map(Self::from_raw)
    }

    /// Scales wire units to SI units.
    pub fn from_raw(raw: RawMeasurement) -> Self {
        Self {
            current_a: f64::from(raw.i) / 100.0,
            voltage_v: f64::from(raw.u) / 100.0,
            frequency_hz: f64::from(raw.f) / 100.0,
            power_w: f64::from(raw.p) / 10.0,
            reactive_power: raw.pq,
            energy_wh: f64::from(raw.e),
            reactive_energy: raw.eq,
        }
    }

    /// Rounds to wire units. Negative values and NaN become 0, values beyond the wire range
    /// saturate at `u32::MAX`.
    pub fn to_raw(&self) -> RawMeasurement {
        // `as` from f64 saturates and maps NaN to 0, which is the clamping wanted here.
        let wire = |x: f64, per_unit: f64| (x * per_unit).round() as u32;
        RawMeasurement {
            i: wire(self.current_a, 100.0),
            u: wire(self.voltage_v, 100.0),
            f: wire(self.frequency_hz, 100.0),
            p: wire(self.power_w, 10.0),
            pq: self.reactive_power,
            e: wire(self.energy_wh, 1.0),
            eq: self.reactive_energy,
        }
    }

    /// The reply an emulator sends, without line ending: `+ok=I,U,F,P,PQ,E,EQ`.
    pub fn to_wire(&self) -> String {
        self.to_reply().to_string()
    }

    /// The reply as a [`Reply::OkValue`] (to encode with a chosen line ending).
    pub fn to_reply(&self) -> Reply {
        Reply::OkValue(self.to_raw().to_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn capture_vector() {
        // cfxtby capture (§2.3, §5.6)
        let m = Measurement::parse(b"+ok=3,22694,5007,0,0,3548,0").unwrap();
        assert!(close(m.current_a, 0.03));
        assert!(close(m.voltage_v, 226.94));
        assert!(close(m.frequency_hz, 50.07));
        assert!(close(m.power_w, 0.0));
        assert_eq!(m.reactive_power, 0);
        assert!(close(m.energy_wh, 3548.0));
        assert_eq!(m.reactive_energy, 0);
        assert_eq!(m.to_wire(), "+ok=3,22694,5007,0,0,3548,0");
        assert_eq!(Measurement::parse(b"+ok=3,22694,5007,0,0,3548,0\r\n").unwrap(), m);
        assert_eq!(
            m.to_reply().encode(crate::hf::reply::LineEnding::CrLf),
            "+ok=3,22694,5007,0,0,3548,0\r\n"
        );
    }

    #[test]
    fn node_reco_vector() {
        // node-reco README: { I: 8, U: 23678, F: 4999, P: 74, PQ: 0, E: 22015, EQ: 0 }
        let raw = RawMeasurement { i: 8, u: 23678, f: 4999, p: 74, pq: 0, e: 22015, eq: 0 };
        let m = Measurement::from_raw(raw);
        assert!(close(m.current_a, 0.08));
        assert!(close(m.voltage_v, 236.78));
        assert!(close(m.frequency_hz, 49.99));
        assert!(close(m.power_w, 7.4));
        assert!(close(m.energy_wh, 22015.0));
        assert_eq!(m.to_wire(), "+ok=8,23678,4999,74,0,22015,0");
        assert_eq!(m.to_raw(), raw);
        assert_eq!(Measurement::parse(m.to_wire().as_bytes()).unwrap(), m);
        assert_eq!(RawMeasurement::parse_value("8,23678,4999,74,0,22015,0").unwrap(), raw);
    }

    #[test]
    fn emulator_values_are_rounded_and_clamped() {
        let m = Measurement {
            current_a: 0.456,
            voltage_v: 230.004,
            frequency_hz: 49.996,
            power_w: 104.96,
            reactive_power: 0,
            energy_wh: 10.6,
            reactive_energy: 0,
        };
        assert_eq!(m.to_wire(), "+ok=46,23000,5000,1050,0,11,0");
        let weird = Measurement { current_a: -1.0, voltage_v: f64::NAN, power_w: 1e300, ..m };
        let raw = weird.to_raw();
        assert_eq!((raw.i, raw.u, raw.p), (0, 0, u32::MAX));
    }

    #[test]
    fn malformed_replies_are_typed() {
        let err = |s: &[u8]| Measurement::parse(s).unwrap_err();
        assert_eq!(err(b"+ok=3,22694,5007,0,0").to_string(), "+ok= reply has 5 fields, expected 7");
        assert_eq!(err(b"+ok=3,22694,5007,0,0,3548,0,1"), MeasurementError::FieldCount { got: 8 });
        assert_eq!(err(b"+ok=3"), MeasurementError::FieldCount { got: 1 });
        assert!(matches!(err(b"+ok="), MeasurementError::Reply(ReplyError::Truncated(_))));
        assert!(matches!(err(b""), MeasurementError::Reply(ReplyError::Empty)));
        assert!(matches!(err(b"\x00\x01garbage"), MeasurementError::Reply(ReplyError::Garbage(_))));
        assert_eq!(err(b"+ok"), MeasurementError::Unexpected(Reply::Ok));
        assert_eq!(err(b"+ERROR\r\n").to_string(), "expected a +ok=I,U,F,P,PQ,E,EQ reply, got +ERROR");
        assert_eq!(
            err(b"+ok=3,x,5007,0,0,3548,0").to_string(),
            "field 2 (U) is not an unsigned integer: \"x\""
        );
        assert!(matches!(
            err(b"+ok=3,22694,5007,-1,0,3548,0"),
            MeasurementError::NotANumber { index: 4, .. }
        ));
        assert!(matches!(err(b"+ok=3,22694,5007,0,0,,0"), MeasurementError::NotANumber { index: 6, .. }));
        assert!(matches!(err(b"+ok=3, 22694,5007,0,0,1,0"), MeasurementError::NotANumber { index: 2, .. }));
        assert!(matches!(err(b"+ok=3,22694,5007,0,0,1.5,0"), MeasurementError::NotANumber { index: 6, .. }));
        assert_eq!(
            err(b"+ok=3,22694,5007,0,0,4294967296,0").to_string(),
            "field 6 (E) = 4294967296 does not fit in 32 bits"
        );
        assert_eq!(RawMeasurement::parse_value(""), Err(MeasurementError::Empty));
        // the §2.6 quirk trailer does not hurt
        assert!(Measurement::parse(b"+ok=3,22694,5007,0,0,3548,0\r\n+error").is_ok());
    }

    proptest! {
        #[test]
        fn round_trip(v: [u32; 7]) {
            let [i, u, f, p, pq, e, eq] = v;
            let raw = RawMeasurement { i, u, f, p, pq, e, eq };
            prop_assert_eq!(RawMeasurement::parse_value(&raw.to_value()).unwrap(), raw);
            let m = Measurement::from_raw(raw);
            prop_assert_eq!(m.to_raw(), raw);
            prop_assert_eq!(Measurement::parse(m.to_wire().as_bytes()).unwrap(), m);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Measurement::parse(&bytes);
        }

        #[test]
        fn never_panics_near_valid(s in "\\+ok=[0-9,\\-x ]{0,40}") {
            let _ = Measurement::parse(s.as_bytes());
        }
    }
}
