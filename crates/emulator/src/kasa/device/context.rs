//! `context.child_ids` (kasa-protocol.md §9): which strip outlets a request addresses.
//!
//! Rules (from the simulator author's device notes): only the first `context` key counts;
//! `context:{}`, `[]`, `""` or an object without `child_ids` → as if absent; `child_ids`
//! that is not an array of strings → -3 for context-aware methods; `[]` → context-aware
//! methods succeed but change nothing; any unknown id → -14 and nothing is applied.
//! Single-outlet devices ignore the context entirely. Ids match case-insensitively, and the
//! short form (`"1"`, `"02"`: the outlet index) is accepted too.

use serde_json::Value;

use super::request::Body;

/// A parsed context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ctx {
    /// No usable context.
    Absent,
    /// `child_ids` of the wrong type.
    Invalid,
    /// The listed ids.
    Ids(Vec<String>),
}

impl Ctx {
    /// Reads the value of the first `context` key.
    pub(crate) fn parse(body: &Body) -> Self {
        let Body::Methods(fields) = body else { return Self::Absent };
        match fields.iter().rev().find(|(k, _)| k == "child_ids").map(|(_, v)| v) {
            None => Self::Absent,
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map_or(Self::Invalid, Self::Ids),
            Some(_) => Self::Invalid,
        }
    }
}

/// What a context-aware method applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Targets {
    /// No context: the device itself (a plug's relay, a strip as a whole).
    Device,
    /// These strip outlets (indices, possibly none).
    Outlets(Vec<usize>),
}

/// Finds the outlet an id names among `ids` (full id case-insensitively, or a 1–2 digit
/// outlet index).
pub(crate) fn outlet_index<'a>(ids: impl IntoIterator<Item = &'a str>, wanted: &str) -> Option<usize> {
    let ids: Vec<&str> = ids.into_iter().collect();
    if let Some(i) = ids.iter().position(|id| id.eq_ignore_ascii_case(wanted)) {
        return Some(i);
    }
    if (1..=2).contains(&wanted.len()) && wanted.bytes().all(|b| b.is_ascii_digit()) {
        let i: usize = wanted.parse().ok()?;
        return (i < ids.len()).then_some(i);
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ctx(v: Value) -> Ctx {
        let body = match v {
            Value::Object(m) => Body::Methods(m.into_iter().collect()),
            _ => Body::NotObject,
        };
        Ctx::parse(&body)
    }

    #[test]
    fn shapes() {
        assert_eq!(ctx(json!({})), Ctx::Absent);
        assert_eq!(ctx(json!([])), Ctx::Absent);
        assert_eq!(ctx(json!("")), Ctx::Absent);
        assert_eq!(ctx(json!({"something":[]})), Ctx::Absent);
        assert_eq!(ctx(json!({"child_ids":{}})), Ctx::Invalid);
        assert_eq!(ctx(json!({"child_ids":[1]})), Ctx::Invalid);
        assert_eq!(ctx(json!({"child_ids":[]})), Ctx::Ids(vec![]));
        assert_eq!(ctx(json!({"child_ids":["A"]})), Ctx::Ids(vec!["A".into()]));
    }

    #[test]
    fn ids() {
        let ids = ["ABCD00", "ABCD01", "ABCD02"];
        assert_eq!(outlet_index(ids, "abcd01"), Some(1));
        assert_eq!(outlet_index(ids, "02"), Some(2));
        assert_eq!(outlet_index(ids, "2"), Some(2));
        assert_eq!(outlet_index(ids, "03"), None);
        assert_eq!(outlet_index(ids, "A"), None);
        assert_eq!(outlet_index(ids, ""), None);
    }
}
