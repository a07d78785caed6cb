//! Parsing replies (kasa-protocol.md §5.2): the reply mirrors the request tree; every method
//! result carries `err_code`; an unknown module is answered at module level.

use serde_json::{Map, Value};

use super::error::{DeviceError, ResponseError};

/// Deepest JSON nesting accepted in a reply (hostile input guard).
pub const MAX_DEPTH: usize = 64;

/// A decoded reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    root: Map<String, Value>,
}

impl Response {
    /// Parses decrypted payload bytes.
    pub fn parse(payload: &[u8]) -> Result<Self, ResponseError> {
        let text = std::str::from_utf8(payload)
            .map_err(|e| ResponseError::NotJson(format!("invalid UTF-8: {e}")))?;
        if nesting_depth(text.as_bytes()) > MAX_DEPTH {
            return Err(ResponseError::NotJson(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let value: Value = serde_json::from_str(text).map_err(|e| ResponseError::NotJson(e.to_string()))?;
        Self::from_value(value)
    }

    /// Wraps an already parsed value.
    pub fn from_value(value: Value) -> Result<Self, ResponseError> {
        match value {
            Value::Object(root) => Ok(Self { root }),
            _ => Err(ResponseError::NotObject),
        }
    }

    /// The whole reply.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.root
    }

    /// The whole reply as a JSON value.
    pub fn into_value(self) -> Value {
        Value::Object(self.root)
    }

    /// The result object of `module.method`, or the device's error for it.
    pub fn result(&self, module: &str, method: &str) -> Result<&Map<String, Value>, ResponseError> {
        let m = self.root.get(module).ok_or_else(|| ResponseError::Missing(format!("module {module}")))?;
        let m = m.as_object().ok_or_else(|| ResponseError::Malformed {
            what: "reply",
            detail: format!("module {module} is not an object"),
        })?;
        if let Some(err) = error_of(m, module, None) {
            return Err(err.into());
        }
        let r = m.get(method).ok_or_else(|| ResponseError::Missing(format!("{module}.{method}")))?;
        let r = r.as_object().ok_or_else(|| ResponseError::Malformed {
            what: "reply",
            detail: format!("{module}.{method} is not an object"),
        })?;
        if let Some(err) = error_of(r, module, Some(method)) {
            return Err(err.into());
        }
        Ok(r)
    }

    /// The first device error anywhere in the reply, if any.
    pub fn first_error(&self) -> Option<DeviceError> {
        for (module, v) in &self.root {
            let Some(m) = v.as_object() else { continue };
            if let Some(e) = error_of(m, module, None) {
                return Some(e);
            }
            for (method, r) in m {
                if let Some(e) = r.as_object().and_then(|r| error_of(r, module, Some(method))) {
                    return Some(e);
                }
            }
        }
        None
    }
}

/// The error carried by a module or method object, if its `err_code` is non-zero.
fn error_of(obj: &Map<String, Value>, module: &str, method: Option<&str>) -> Option<DeviceError> {
    let code = obj.get("err_code")?.as_i64()?;
    (code != 0).then(|| DeviceError {
        code,
        msg: obj.get("err_msg").and_then(Value::as_str).map(str::to_string),
        module: module.to_string(),
        method: method.map(str::to_string),
    })
}

/// Maximum bracket nesting of a JSON text (ignoring brackets inside strings).
pub(crate) fn nesting_depth(text: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for &b in text {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kasa::DeviceErrorKind;

    #[test]
    fn module_and_method_errors_are_typed() {
        let r = Response::parse(
            br#"{"emeter":{"err_code":-1,"err_msg":"module not support"},
                 "schedule":{"get_rules":{"err_code":0,"rule_list":[]},"get_realtime":{"err_code":-2,"err_msg":"member not support"}},
                 "system":{"get_sysinfo":{"err_code":0,"alias":"x"}}}"#,
        )
        .unwrap();
        let Err(ResponseError::Device(e)) = r.result("emeter", "get_realtime") else { panic!() };
        assert_eq!(e.kind(), DeviceErrorKind::ModuleNotSupported);
        assert_eq!(e.method, None);
        let Err(ResponseError::Device(e)) = r.result("schedule", "get_realtime") else { panic!() };
        assert_eq!(e.kind(), DeviceErrorKind::MethodNotSupported);
        assert!(r.result("schedule", "get_rules").is_ok());
        assert_eq!(r.result("system", "get_sysinfo").unwrap()["alias"], "x");
        assert!(matches!(r.result("time", "get_time"), Err(ResponseError::Missing(_))));
        assert!(r.first_error().is_some());
    }

    #[test]
    fn non_json_and_non_object() {
        assert!(matches!(Response::parse(b"garbage"), Err(ResponseError::NotJson(_))));
        assert!(matches!(Response::parse(&[0xff, 0xfe]), Err(ResponseError::NotJson(_))));
        assert!(matches!(Response::parse(b"[1,2]"), Err(ResponseError::NotObject)));
        let deep = "[".repeat(10_000);
        assert!(matches!(Response::parse(deep.as_bytes()), Err(ResponseError::NotJson(_))));
    }
}
