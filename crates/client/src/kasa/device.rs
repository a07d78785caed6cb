//! [`KasaDevice`]: a handle on one legacy Kasa plug, switch or strip.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
};

use plugctl_proto::kasa::{EmeterReading, Request, Response, ResponseError, SysInfo};
use serde_json::Value;

use super::{config::ClientConfig, connection::Connection};
use crate::error::{Error, Result};
use crate::stats::ConnectionStats;

/// A handle on one Kasa device at a TCP address (normally port 9999).
///
/// The handle keeps one persistent connection, opened on first use, and sends one request
/// at a time over it; concurrent calls from many tasks queue up (share the handle in an
/// `Arc`). Closed connections are re-opened transparently; failures that may pass are
/// retried per [`ClientConfig`]. See [`query`](Self::query) for the exact rules.
///
/// The convenience methods (`set_power`, `energy`, …) need to know the device's outlets and
/// features: they read `get_sysinfo` once and remember it; a later outlet lookup that
/// misses re-reads it. [`sysinfo`](Self::sysinfo) always asks the device.
///
/// Outlets of strips (HS300, HS107, KP303, …) are named by their full child id, by the
/// 2-digit id suffix (`"00"`, `"01"`, …) or by 0-based index (`"0"`, `"1"`, …).
pub struct KasaDevice {
    conn: Connection,
    known: Mutex<Option<Arc<SysInfo>>>,
}

/// [`SysInfo::from_response`], taking the reply apart instead of copying the sysinfo object
/// out of it (this runs on every poll).
fn sysinfo_of(resp: Response) -> std::result::Result<SysInfo, ResponseError> {
    resp.result("system", "get_sysinfo")?; // the device's error codes, a missing or odd result
    let Value::Object(mut root) = resp.into_value() else { return Err(ResponseError::NotObject) };
    let obj = match root.remove("system") {
        Some(Value::Object(mut system)) => system.remove("get_sysinfo"),
        _ => None,
    };
    let Some(Value::Object(mut obj)) = obj else {
        return Err(ResponseError::Missing("system.get_sysinfo".into())); // checked above already
    };
    obj.remove("err_code");
    serde_json::from_value(Value::Object(obj))
        .map_err(|e| ResponseError::Malformed { what: "sysinfo", detail: e.to_string() })
}

impl std::fmt::Debug for KasaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KasaDevice").field("addr", &self.addr()).finish_non_exhaustive()
    }
}

impl KasaDevice {
    /// A handle on the device at `addr`. Does no I/O; the connection opens on first use.
    pub fn new(addr: SocketAddr, cfg: ClientConfig) -> Self {
        Self { conn: Connection::new(addr, cfg), known: Mutex::new(None) }
    }

    /// A handle that already knows the device's sysinfo (e.g. from discovery), saving one
    /// round trip before the first outlet lookup.
    pub fn with_sysinfo(addr: SocketAddr, cfg: ClientConfig, sysinfo: SysInfo) -> Self {
        let dev = Self::new(addr, cfg);
        dev.remember(sysinfo);
        dev
    }

    /// This handle, its kept connection included, under other settings (e.g. a probe's
    /// connection handed on to the handle that is used afterwards).
    pub(crate) fn reconfigured(self, cfg: ClientConfig) -> Self {
        Self { conn: self.conn.reconfigured(cfg), known: self.known }
    }

    /// The device's address.
    pub fn addr(&self) -> SocketAddr {
        self.conn.addr()
    }

    /// The settings in force.
    pub fn config(&self) -> &ClientConfig {
        self.conn.config()
    }

    /// Network counters (connects, attempts, retries, transparent reconnects).
    pub fn stats(&self) -> ConnectionStats {
        self.conn.stats()
    }

    /// The sysinfo last read by this handle, if any.
    pub fn last_sysinfo(&self) -> Option<Arc<SysInfo>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Closes the kept connection (after the request in flight, if any). The next request
    /// opens a new one.
    pub async fn close(&self) {
        self.conn.close().await;
    }

    /// Sends a request and returns the device's reply.
    ///
    /// Device error codes inside the reply are *not* turned into `Err`: a multi-module
    /// request can half succeed, so the caller inspects [`Response::result`] or
    /// [`Response::first_error`].
    ///
    /// Errors: [`Error::Refused`] at once (never retried); after the retries are used up,
    /// the last of [`Error::Timeout`], [`Error::Closed`], [`Error::Io`], [`Error::Frame`]
    /// (e.g. a length prefix over `max_frame`) or [`Error::Reply`] (not JSON, not an
    /// object). A request longer than `max_frame` is [`Error::InvalidArgument`].
    pub async fn query(&self, req: &Request) -> Result<Response> {
        self.conn.request(req.to_json().as_bytes()).await
    }

    /// Sends any JSON text as is and returns the device's reply verbatim (as a JSON value;
    /// device error codes included, not turned into `Err`).
    ///
    /// The text must be valid JSON ([`Error::InvalidArgument`] otherwise, nothing sent).
    pub async fn query_raw(&self, json_text: &str) -> Result<Value> {
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(json_text) {
            return Err(Error::InvalidArgument {
                addr: self.addr(),
                reason: format!("request is not JSON: {e}"),
            });
        }
        self.conn.request(json_text.as_bytes()).await.map(Response::into_value)
    }

    /// Reads `system.get_sysinfo` from the device.
    pub async fn sysinfo(&self) -> Result<SysInfo> {
        Ok(SysInfo::clone(&*self.fetch_sysinfo().await?))
    }

    /// Reads sysinfo from the device and remembers it.
    async fn fetch_sysinfo(&self) -> Result<Arc<SysInfo>> {
        let resp = self.query(&Request::get_sysinfo()).await?;
        let info = sysinfo_of(resp).map_err(|e| self.reply_error(e))?;
        Ok(self.remember(info))
    }

    /// Switches the relay on or off.
    ///
    /// `child` names one outlet of a strip. With `None` a strip switches **all** its outlets
    /// (every outlet id is listed in the request context, which is well defined, rather than
    /// relying on what firmware does without a context).
    pub async fn set_power(&self, on: bool, child: Option<&str>) -> Result<()> {
        let req = Request::set_relay_state(on);
        let req = match child {
            Some(c) => req.for_children([self.resolve(c).await?]),
            None => {
                let info = self.known().await?;
                req.for_children(info.children.iter().map(|c| c.id.clone()))
            }
        };
        self.call(&req, "system", "set_relay_state").await.map(drop)
    }

    /// Flips the relay and returns the new state (`true` = on).
    ///
    /// Reads the current state first. With `None` on a strip: if any outlet is on, all are
    /// switched off, otherwise all on.
    pub async fn toggle(&self, child: Option<&str>) -> Result<bool> {
        let info = self.fetch_sysinfo().await?;
        let (current, target) = match child {
            Some(c) => {
                let outlet = self.find_child(&info, c)?;
                (outlet.state, Some(outlet.id.clone()))
            }
            None => (info.is_on(), None),
        };
        let new = !current;
        self.set_power(new, target.as_deref()).await?;
        Ok(new)
    }

    /// Reads the energy meter (`emeter.get_realtime`), normalised to W, V, A and kWh
    /// whatever unit scheme the hardware uses.
    ///
    /// On a strip `child` selects one outlet; with `None` the outlets are read one by one
    /// and summed (power, current and energy added, voltage averaged), as python-kasa does.
    /// A device without `ENE` in its features is [`Error::Unsupported`].
    pub async fn energy(&self, child: Option<&str>) -> Result<EmeterReading> {
        let info = self.known().await?;
        if !info.has_emeter() {
            return Err(Error::Unsupported {
                addr: self.addr(),
                reason: "this device has no energy meter".into(),
            });
        }
        match child {
            Some(c) => self.realtime(Some(self.resolve(c).await?)).await,
            None if info.children.is_empty() => self.realtime(None).await,
            None => {
                let mut sum = EmeterReading { power_w: 0.0, voltage_v: 0.0, current_a: 0.0, total_kwh: 0.0 };
                for outlet in &info.children {
                    let r = self.realtime(Some(outlet.id.clone())).await?;
                    sum.power_w += r.power_w;
                    sum.current_a += r.current_a;
                    sum.total_kwh += r.total_kwh;
                    sum.voltage_v += r.voltage_v;
                }
                sum.voltage_v /= info.children.len() as f64;
                // Sums of decimal readings carry binary noise (122.04899999999999): keep the
                // devices' own precision (µ-units).
                let round = |x: f64| (x * 1e6).round() / 1e6;
                Ok(EmeterReading {
                    power_w: round(sum.power_w),
                    voltage_v: round(sum.voltage_v),
                    current_a: round(sum.current_a),
                    total_kwh: round(sum.total_kwh),
                })
            }
        }
    }

    /// Renames the device, or with `child` one outlet of a strip.
    pub async fn set_alias(&self, alias: &str, child: Option<&str>) -> Result<()> {
        let req = Request::set_alias(alias);
        let req = match child {
            Some(c) => req.for_children([self.resolve(c).await?]),
            None => req,
        };
        self.call(&req, "system", "set_dev_alias").await.map(drop)
    }

    /// Turns the status LED on or off ("night mode" is `false`).
    pub async fn set_led(&self, on: bool) -> Result<()> {
        self.call(&Request::set_led_off(!on), "system", "set_led_off").await.map(drop)
    }

    /// Reboots the device after `delay_s` seconds. The device goes offline for a while.
    ///
    /// A delay of 0 is refused ([`Error::InvalidArgument`]): devices then reboot without
    /// replying, which would look like a timeout and be retried.
    pub async fn reboot(&self, delay_s: u32) -> Result<()> {
        if delay_s == 0 {
            return Err(Error::InvalidArgument {
                addr: self.addr(),
                reason: "a reboot delay of 0 s makes the device reboot without replying; use 1 s or more"
                    .into(),
            });
        }
        self.call(&Request::reboot(delay_s), "system", "reboot").await.map(drop)
    }

    /// Sends `req` and returns the result object of `module.method`; device error codes
    /// become [`Error::Device`].
    async fn call(
        &self,
        req: &Request,
        module: &str,
        method: &str,
    ) -> Result<serde_json::Map<String, Value>> {
        let resp = self.query(req).await?;
        resp.result(module, method).cloned().map_err(|e| self.reply_error(e))
    }

    async fn realtime(&self, child_id: Option<String>) -> Result<EmeterReading> {
        let req = Request::get_realtime().for_children(child_id);
        let m = self.call(&req, "emeter", "get_realtime").await?;
        EmeterReading::from_map(&m).map_err(|e| self.reply_error(e))
    }

    fn reply_error(&self, e: plugctl_proto::kasa::ResponseError) -> Error {
        Error::from_response(self.addr(), e)
    }

    fn remember(&self, info: SysInfo) -> Arc<SysInfo> {
        let info = Arc::new(info);
        *self.known.lock().unwrap_or_else(PoisonError::into_inner) = Some(info.clone());
        info
    }

    /// The remembered sysinfo, read from the device if there is none yet.
    async fn known(&self) -> Result<Arc<SysInfo>> {
        match self.last_sysinfo() {
            Some(info) => Ok(info),
            None => self.fetch_sysinfo().await,
        }
    }

    /// Resolves an outlet name to its full child id, re-reading sysinfo once on a miss.
    async fn resolve(&self, child: &str) -> Result<String> {
        if let Some(info) = self.last_sysinfo() {
            if let Some(c) = info.child(child) {
                return Ok(c.id.clone());
            }
        }
        let info = self.fetch_sysinfo().await?;
        self.find_child(&info, child).map(|c| c.id.clone())
    }

    fn find_child<'a>(&self, info: &'a SysInfo, child: &str) -> Result<&'a plugctl_proto::kasa::ChildInfo> {
        info.child(child).ok_or_else(|| Error::NoSuchChild {
            addr: self.addr(),
            child: child.to_string(),
            valid: info.children.iter().map(|c| c.id.clone()).collect(),
        })
    }
}
