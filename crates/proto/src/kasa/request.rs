//! Building requests: `{"<module>":{"<method>":<params>},…,"context":{"child_ids":[…]}}`
//! (kasa-protocol.md §5.1).

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

    /// The request as compact JSON text, as devices expect it.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
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
}
