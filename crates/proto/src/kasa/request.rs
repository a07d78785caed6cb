//! Building requests: `{"<module>":{"<method>":<params>},…,"context":{"child_ids":[…]}}`
//! (kasa-protocol.md §5.1).

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};

/// A Kasa request: one or more module/method calls, optionally addressed to strip outlets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    modules: Map<String, Value>,
    child_ids: Vec<String>,
}

impl Request {
    /// An empty request.
    pub fn new() -> Self {
        Self::default()
    }

    /// A request with one call whose params are `{}`.
    pub fn call(module: &str, method: &str) -> Self {
        Self::new().with(module, method, json!({}))
    }

    /// Adds a call (builder style). A second call of the same method replaces the first.
    pub fn with(mut self, module: &str, method: &str, params: Value) -> Self {
        self.add(module, method, params);
        self
    }

    /// Adds a call.
    pub fn add(&mut self, module: &str, method: &str, params: Value) {
        let entry = self.modules.entry(module.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(method.to_string(), params);
        }
    }

    /// Addresses context-aware calls to these strip outlets (`context.child_ids`).
    pub fn for_children<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.child_ids.extend(ids.into_iter().map(Into::into));
        self
    }

    /// The outlets this request is addressed to.
    pub fn child_ids(&self) -> &[String] {
        &self.child_ids
    }

    /// Iterates over `(module, method)` pairs in the request.
    pub fn calls(&self) -> impl Iterator<Item = (&str, &str)> {
        self.modules.iter().flat_map(|(m, v)| {
            v.as_object().into_iter().flat_map(move |ms| ms.keys().map(move |k| (m.as_str(), k.as_str())))
        })
    }

    /// The request as a JSON value.
    pub fn to_value(&self) -> Value {
        let mut obj = self.modules.clone();
        if !self.child_ids.is_empty() {
            obj.insert("context".into(), json!({ "child_ids": self.child_ids }));
        }
        Value::Object(obj)
    }

    /// The request as compact JSON text, as devices expect it (the same text as
    /// [`to_value`](Self::to_value) prints, written without building that value).
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(64);
        self.write_json(&mut out);
        // JSON written by serde_json is UTF-8.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the compact JSON text of the request to `out` (reusing its allocation).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Writing plain strings and JSON values into a Vec cannot fail.
        let _ = serde_json::to_writer(out, self);
    }

    /// `system.get_sysinfo`.
    pub fn get_sysinfo() -> Self {
        Self::call("system", "get_sysinfo")
    }

    /// `system.set_relay_state`.
    pub fn set_relay_state(on: bool) -> Self {
        Self::new().with("system", "set_relay_state", json!({ "state": u8::from(on) }))
    }

    /// `system.set_led_off` (`off: true` turns the status LED off).
    pub fn set_led_off(off: bool) -> Self {
        Self::new().with("system", "set_led_off", json!({ "off": u8::from(off) }))
    }

    /// `system.set_dev_alias`.
    pub fn set_alias(alias: &str) -> Self {
        Self::new().with("system", "set_dev_alias", json!({ "alias": alias }))
    }

    /// `system.reboot` after `delay` seconds.
    pub fn reboot(delay: u32) -> Self {
        Self::new().with("system", "reboot", json!({ "delay": delay }))
    }

    /// `emeter.get_realtime`.
    pub fn get_realtime() -> Self {
        Self::call("emeter", "get_realtime")
    }
}

/// Serialises as [`Request::to_value`] would: the calls in order, then `context` (in place
/// of a module of that name, if one was added) when outlets are addressed.
impl Serialize for Request {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// `{"child_ids":[…]}`.
        struct Context<'a>(&'a [String]);
        impl Serialize for Context<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("child_ids", self.0)?;
                m.end()
            }
        }
        let context = !self.child_ids.is_empty();
        let shadowed = context && self.modules.contains_key("context");
        let len = self.modules.len() + usize::from(context && !shadowed);
        let mut m = s.serialize_map(Some(len))?;
        for (k, v) in &self.modules {
            if context && k == "context" {
                m.serialize_entry(k, &Context(&self.child_ids))?;
            } else {
                m.serialize_entry(k, v)?;
            }
        }
        if context && !shadowed {
            m.serialize_entry("context", &Context(&self.child_ids))?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_call_is_the_published_query() {
        assert_eq!(Request::get_sysinfo().to_json(), crate::kasa::DISCOVERY_QUERY);
    }

    #[test]
    fn multi_module_with_context() {
        let r = Request::get_sysinfo()
            .with("emeter", "get_realtime", Value::Null)
            .with("system", "set_relay_state", json!({"state":1}))
            .for_children(["AB01"]);
        let v = r.to_value();
        assert_eq!(v["context"]["child_ids"][0], "AB01");
        assert_eq!(v["system"]["set_relay_state"]["state"], 1);
        assert!(v["emeter"]["get_realtime"].is_null());
        assert_eq!(r.calls().count(), 3);
    }

    #[test]
    fn written_json_is_the_value_printed() {
        let with_context = Request::get_sysinfo()
            .with("emeter", "get_realtime", Value::Null)
            .with("system", "set_dev_alias", json!({"alias": "Küche \"1\" \\ 😽\u{1}"}))
            .for_children(["AB01", "AB02"]);
        let shadowing = Request::get_sysinfo().with("context", "x", json!({})).for_children(["AB01"]);
        let unused_context = Request::get_sysinfo().with("context", "x", json!({}));
        for r in [Request::new(), Request::get_sysinfo(), with_context, shadowing, unused_context] {
            assert_eq!(r.to_json(), r.to_value().to_string());
            let mut out = b"xy".to_vec();
            r.write_json(&mut out);
            assert_eq!(&out[2..], r.to_json().as_bytes());
        }
    }
}
