//! Parsing a request payload, keeping what a plain JSON map would lose: the order of modules
//! and methods, and duplicate keys (a second `context` is answered as an unknown module).
//!
//! Anything that is not a JSON object (invalid UTF-8, garbage, `[]`, `5`, too deeply
//! nested) yields `None`; the device answers `{}` (kasa-protocol.md §13 rows 8–10, 17).

use std::fmt;

use serde::{
    de::{IgnoredAny, MapAccess, SeqAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::Value;

/// Deepest nesting of arrays/objects accepted (real requests use 4).
pub(crate) const MAX_DEPTH: usize = 32;

/// The value of one top-level key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    /// An object: methods (or context fields) in request order, duplicates kept.
    Methods(Vec<(String, Value)>),
    /// Anything else (`null`, numbers, strings, arrays).
    NotObject,
}

/// A parsed request: top-level keys in order, duplicates kept.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entries(pub(crate) Vec<(String, Body)>);

/// Parses a request payload; `None` if it is not a JSON object within the depth limit.
pub(crate) fn parse(payload: &[u8]) -> Option<Entries> {
    if !depth_ok(payload, MAX_DEPTH) {
        return None;
    }
    serde_json::from_slice(payload).ok()
}

/// True for a request of `system.get_sysinfo` alone (any parameters, no context): the
/// reply is then the sysinfo alone, whatever the device.
pub(crate) fn is_sysinfo_only(e: &Entries) -> bool {
    match e.0.as_slice() {
        [(module, Body::Methods(methods))] if module == "system" => {
            matches!(methods.as_slice(), [(method, _)] if method == "get_sysinfo")
        }
        _ => false,
    }
}

/// Checks array/object nesting without parsing (strings and escapes are skipped).
pub(crate) fn depth_ok(bytes: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for &b in bytes {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value::<Body>()?));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Body;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value::<Value>()?));
                }
                Ok(Body::Methods(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Body, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Body::NotObject)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Body, E> {
                Ok(Body::NotObject)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Body, E> {
                Ok(Body::NotObject)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Body, E> {
                Ok(Body::NotObject)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Body, E> {
                Ok(Body::NotObject)
            }
            fn visit_str<E>(self, _: &str) -> Result<Body, E> {
                Ok(Body::NotObject)
            }
            fn visit_unit<E>(self) -> Result<Body, E> {
                Ok(Body::NotObject)
            }
            fn visit_none<E>(self) -> Result<Body, E> {
                Ok(Body::NotObject)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn order_and_duplicates_are_kept() {
        let e =
            parse(br#"{"context":{"child_ids":["a"]},"system":{"b":null,"a":{}},"context":5,"x":[1,[2]]}"#)
                .unwrap();
        let keys: Vec<&str> = e.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["context", "system", "context", "x"]);
        assert_eq!(e.0[1].1, Body::Methods(vec![("b".into(), Value::Null), ("a".into(), json!({}))]));
        assert_eq!(e.0[2].1, Body::NotObject);
        assert_eq!(e.0[3].1, Body::NotObject);
    }

    #[test]
    fn non_objects_and_garbage() {
        for bad in [&b"[]"[..], b"5", b"\"x\"", b"null", b"{emeter:{}}", b"", b"\xff\xfe", b"{\"a\":1"] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(parse(b" {} ").unwrap().0.len(), 0);
    }

    #[test]
    fn depth_limit() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        assert!(parse(deep.as_bytes()).is_none());
        let ok = format!("{{\"a\":{}1{}}}", "[".repeat(20), "]".repeat(20));
        assert!(parse(ok.as_bytes()).is_some());
        assert!(depth_ok(br#"{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"["}"#, 3));
    }
}
