//! Method parameters: `null` and `{}` are interchangeable; anything else that is not an
//! object, a missing required field, or a field of the wrong type (`"state":"1"`) is -3
//! `invalid argument` (kasa-protocol.md §13 rows 13–14).

use serde_json::{Map, Value};

use super::CallError;
use crate::kasa::device::rules;

/// A method's parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params<'a> {
    raw: &'a Value,
}

type R<T> = Result<T, CallError>;

impl<'a> Params<'a> {
    pub(crate) fn new(raw: &'a Value) -> Self {
        Self { raw }
    }

    /// The raw value (for methods that accept bare numbers).
    pub(crate) fn raw(&self) -> &'a Value {
        self.raw
    }

    /// The parameter object (`None` for `null`); -3 for other values.
    pub(crate) fn map(&self) -> R<Option<&'a Map<String, Value>>> {
        match self.raw {
            Value::Null => Ok(None),
            Value::Object(m) => Ok(Some(m)),
            _ => Err(CallError::InvalidArgument),
        }
    }

    /// A field (`null` fields count as absent).
    pub(crate) fn get(&self, key: &str) -> R<Option<&'a Value>> {
        Ok(self.map()?.and_then(|m| m.get(key)).filter(|v| !v.is_null()))
    }

    fn require(&self, key: &str) -> R<&'a Value> {
        self.get(key)?.ok_or(CallError::InvalidArgument)
    }

    /// An optional integer field.
    pub(crate) fn opt_i64(&self, key: &str) -> R<Option<i64>> {
        self.get(key)?.map(|v| v.as_i64().ok_or(CallError::InvalidArgument)).transpose()
    }

    /// A required integer field.
    pub(crate) fn i64(&self, key: &str) -> R<i64> {
        self.require(key)?.as_i64().ok_or(CallError::InvalidArgument)
    }

    /// A required integer field within `range`.
    pub(crate) fn i64_in(&self, key: &str, range: std::ops::RangeInclusive<i64>) -> R<i64> {
        let v = self.i64(key)?;
        if range.contains(&v) {
            Ok(v)
        } else {
            Err(CallError::InvalidArgument)
        }
    }

    /// An optional number field.
    pub(crate) fn opt_f64(&self, key: &str) -> R<Option<f64>> {
        self.get(key)?
            .map(|v| v.as_f64().filter(|x| x.is_finite()).ok_or(CallError::InvalidArgument))
            .transpose()
    }

    /// A required 0/1 (or boolean) field.
    pub(crate) fn flag(&self, key: &str) -> R<bool> {
        rules::flag(self.require(key)?).map(|f| f == 1).ok_or(CallError::InvalidArgument)
    }

    /// A required string field.
    pub(crate) fn str(&self, key: &str) -> R<&'a str> {
        self.require(key)?.as_str().ok_or(CallError::InvalidArgument)
    }

    /// An optional string field.
    pub(crate) fn opt_str(&self, key: &str) -> R<Option<&'a str>> {
        self.get(key)?.map(|v| v.as_str().ok_or(CallError::InvalidArgument)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn shapes() {
        let null = Value::Null;
        assert_eq!(Params::new(&null).opt_i64("x"), Ok(None));
        assert_eq!(Params::new(&null).i64("x"), Err(CallError::InvalidArgument));
        let five = json!(5);
        assert_eq!(Params::new(&five).opt_i64("x"), Err(CallError::InvalidArgument));
        let v = json!({"state":"1","on":true,"n":3,"f":1.5,"s":"x","z":null});
        let p = Params::new(&v);
        assert_eq!(p.flag("state"), Err(CallError::InvalidArgument));
        assert_eq!(p.flag("on"), Ok(true));
        assert_eq!(p.i64("n"), Ok(3));
        assert_eq!(p.i64_in("n", 0..=2), Err(CallError::InvalidArgument));
        assert_eq!(p.i64("f"), Err(CallError::InvalidArgument));
        assert_eq!(p.opt_f64("n"), Ok(Some(3.0)));
        assert_eq!(p.str("s"), Ok("x"));
        assert_eq!(p.opt_str("z"), Ok(None));
        assert_eq!(p.str("n"), Err(CallError::InvalidArgument));
    }
}
