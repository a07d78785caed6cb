//! The TP-Link cloud binding (`cnCloud`, kasa-protocol.md §8.3): read it, bind to an
//! account, unbind, and change the cloud server the plug contacts.
//!
//! A plug works locally without the cloud. The cloud-free recipe (unbind, then keep the
//! clock right with [`KasaDevice::sync_time`], since without the cloud the plug may never
//! learn the time) is described in the README; the hub automates it.

use plugctl_proto::kasa::{DeviceErrorKind, Request};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{calls, KasaDevice};
use crate::error::{Error, Result};

/// Longest user name, password or server name sent, in bytes.
pub const MAX_FIELD_BYTES: usize = 128;

/// `cnCloud.get_info`, typed where it matters, every field kept in [`raw`](Self::raw).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudInfo {
    /// Bound to an account (`binded`).
    pub bound: bool,
    /// Currently connected to the cloud (`cld_connection`).
    pub connected: bool,
    /// The account's user name (empty when unbound).
    pub username: String,
    /// The cloud server the plug contacts.
    pub server: String,
    /// Every field as sent (without `err_code`).
    pub raw: Map<String, Value>,
}

impl CloudInfo {
    /// Reads a `get_info` result.
    pub fn from_map(m: &Map<String, Value>) -> Self {
        let flag = |k: &str| match m.get(k) {
            Some(Value::Bool(b)) => *b,
            Some(v) => v.as_i64().unwrap_or(0) == 1,
            None => false,
        };
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut raw = m.clone();
        raw.remove("err_code");
        Self {
            bound: flag("binded"),
            connected: flag("cld_connection"),
            username: text("username"),
            server: text("server"),
            raw,
        }
    }
}

impl KasaDevice {
    /// Reads the cloud binding.
    pub async fn cloud_info(&self) -> Result<CloudInfo> {
        let m = calls::call(self, &Request::call("cnCloud", "get_info"), "cnCloud", "get_info").await?;
        Ok(CloudInfo::from_map(&m))
    }

    /// Binds the plug to a TP-Link account (the plug itself contacts the cloud to check the
    /// credentials; it answers -32 while busy). Returns the binding read back.
    pub async fn cloud_bind(&self, username: &str, password: &str) -> Result<CloudInfo> {
        check_field(self, "user name", username)?;
        check_field(self, "password", password)?;
        let req = Request::new().with("cnCloud", "bind", json!({"username": username, "password": password}));
        calls::call(self, &req, "cnCloud", "bind").await?;
        self.cloud_info().await
    }

    /// Unbinds the plug from its account. Returns whether it was bound; unbinding an unbound
    /// plug is not an error (`-4002` "Device hasn't bound to any account yet" is treated as
    /// success).
    pub async fn cloud_unbind(&self) -> Result<bool> {
        if !self.cloud_info().await?.bound {
            return Ok(false);
        }
        match calls::call(self, &Request::call("cnCloud", "unbind"), "cnCloud", "unbind").await {
            Ok(_) => Ok(true),
            Err(Error::Device { error, .. }) if error.code == -4002 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sets the cloud server host name the plug contacts (`cnCloud.set_server_url`), e.g.
    /// `devs.tplinkcloud.com`. Returns the binding read back.
    pub async fn cloud_set_server(&self, server: &str) -> Result<CloudInfo> {
        check_field(self, "server", server)?;
        if server.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(calls::invalid(self, "the server name contains spaces or control characters"));
        }
        let req = Request::new().with("cnCloud", "set_server_url", json!({"server": server}));
        calls::call(self, &req, "cnCloud", "set_server_url").await?;
        self.cloud_info().await
    }

    /// The firmware updates the cloud offers (`cnCloud.get_intl_fw_list`). Devices that
    /// cannot ask the cloud answer -7 "unknown error" (KP105 dump); that is an empty list.
    pub async fn cloud_firmware_list(&self) -> Result<Vec<Value>> {
        let req = Request::call("cnCloud", "get_intl_fw_list");
        match calls::call(self, &req, "cnCloud", "get_intl_fw_list").await {
            Ok(m) => Ok(m.get("fw_list").and_then(Value::as_array).cloned().unwrap_or_default()),
            Err(Error::Device { error, .. })
                if error.code == -7 || error.kind() == DeviceErrorKind::MethodNotSupported =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }
}

fn check_field(dev: &KasaDevice, what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(calls::invalid(dev, format!("the {what} is empty")));
    }
    if value.len() > MAX_FIELD_BYTES {
        return Err(calls::invalid(
            dev,
            format!("the {what} is {} bytes long; at most {MAX_FIELD_BYTES} are accepted", value.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_from_both_flag_styles() {
        let m = json!({"username":"a@b.c","server":"n-devs.tplinkcloud.com","binded":1,"cld_connection":true,"err_code":0});
        let i = CloudInfo::from_map(m.as_object().unwrap());
        assert!(i.bound && i.connected);
        assert_eq!(i.username, "a@b.c");
        assert!(!i.raw.contains_key("err_code"));
        let i = CloudInfo::from_map(&Map::new());
        assert!(!i.bound && i.server.is_empty());
    }
}
