//! `cnCloud` (kasa-protocol.md §8.3). `get_info` always carries the ten fields python-kasa
//! requires. Binding is simulated: nothing ever connects out (§12 MUST 15).

use serde_json::{json, Value};

use super::{ok, ok_with, CallError, CallResult, Params};

/// Longest user name or server name stored, in bytes.
const MAX_FIELD_BYTES: usize = 128;

fn bounded(s: &str) -> Result<&str, CallError> {
    if s.len() <= MAX_FIELD_BYTES {
        Ok(s)
    } else {
        Err(CallError::InvalidArgument)
    }
}
use crate::kasa::device::DeviceState;

pub(super) fn call(dev: &mut DeviceState, method: &str, p: &Params) -> CallResult {
    match method {
        "get_info" => Ok(dev.cloud.clone()),
        "bind" => {
            let user = bounded(p.str("username")?)?;
            p.str("password")?;
            dev.cloud.insert("username".into(), json!(user));
            dev.cloud.insert("binded".into(), json!(1));
            dev.cloud.insert("cld_connection".into(), json!(1));
            ok()
        }
        "unbind" => {
            if dev.cloud.get("binded").and_then(Value::as_i64) != Some(1) {
                return Err(CallError::Code(-4002, "Device hasn't bound to any account yet"));
            }
            dev.cloud.insert("username".into(), json!(""));
            dev.cloud.insert("binded".into(), json!(0));
            dev.cloud.insert("cld_connection".into(), json!(0));
            ok()
        }
        "get_intl_fw_list" => ok_with(json!({ "fw_list": [] })),
        "set_server_url" => {
            let server = bounded(p.str("server")?)?;
            dev.cloud.insert("server".into(), json!(server));
            ok()
        }
        _ => Err(CallError::NoSuchMethod),
    }
}
