//! Method implementations per top-level module (kasa-protocol.md §8), and the dispatcher
//! that applies the error rules of §7: -1 unknown module, -2 unknown method, -3 invalid
//! argument, -14 unknown entry.
//!
//! Which modules a device has: `system`, `schedule`, `anti_theft`, `count_down`, `time`,
//! `cnCloud` and `netif` always; `emeter` with `ENE` in `feature`; `smartlife.iot.dimmer`
//! on dimmers; and any module a dump answered that the emulator does not implement (its
//! recorded replies are served verbatim). Modules a dump showed as unsupported stay -1.
//! Recorded replies also answer methods of implemented modules that have no implementation.

mod args;
mod cloud;
mod dimmer;
mod emeter;
mod netif;
mod rules;
mod system;
mod time;

use std::time::Instant;

use serde_json::{json, Map, Value};

pub(crate) use args::Params;

use super::device::{rules::RuleKind, Ctx, DeviceState};

/// The modules the emulator implements (or serves from a dump).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModuleKind {
    System,
    Emeter,
    Rules(RuleKind),
    Time,
    Cloud,
    Netif,
    Dimmer,
    /// Only recorded replies from a dump.
    Recorded,
}

/// Why a method produced no normal result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallError {
    /// -2 `member not support` (unless a dump recorded a reply).
    NoSuchMethod,
    /// -3 `invalid argument`.
    InvalidArgument,
    /// -14 `entry not exist`.
    EntryNotExist,
    /// Another firmware error code and message.
    Code(i64, &'static str),
    /// The device reboots at once and sends nothing for the whole request.
    NoReply,
}

/// The result of one method call.
pub(crate) type CallResult = Result<Map<String, Value>, CallError>;

/// What a call contributes to the reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The method's entry.
    Reply(Value),
    /// Suppress the whole reply.
    NoReply,
}

/// `{"err_code":code,"err_msg":msg}`.
pub(crate) fn error(code: i64, msg: &str) -> Value {
    json!({"err_code": code, "err_msg": msg})
}

/// Which module `name` is on this device, or `None` (→ -1).
pub(crate) fn module_kind(dev: &DeviceState, name: &str) -> Option<ModuleKind> {
    let profile = dev.profile();
    if profile.unsupported_modules().iter().any(|m| m == name) && name != "system" {
        return None;
    }
    let kind = match name {
        "system" => ModuleKind::System,
        "emeter" if dev.emeter_scheme().is_some() => ModuleKind::Emeter,
        "schedule" => ModuleKind::Rules(RuleKind::Schedule),
        "anti_theft" => ModuleKind::Rules(RuleKind::AntiTheft),
        "count_down" => ModuleKind::Rules(RuleKind::CountDown),
        "time" => ModuleKind::Time,
        "cnCloud" => ModuleKind::Cloud,
        "netif" => ModuleKind::Netif,
        "smartlife.iot.dimmer" if dev.dimmer.is_some() => ModuleKind::Dimmer,
        other if profile.static_replies().contains_key(other) => ModuleKind::Recorded,
        _ => return None,
    };
    Some(kind)
}

/// Calls one method and shapes its reply entry.
pub(crate) fn call(
    dev: &mut DeviceState,
    kind: ModuleKind,
    module: &str,
    method: &str,
    params: &Value,
    ctx: &Ctx,
    now: Instant,
) -> Outcome {
    let p = Params::new(params);
    let result = match kind {
        ModuleKind::System => system::call(dev, method, &p, ctx, now),
        ModuleKind::Emeter => emeter::call(dev, method, &p, ctx),
        ModuleKind::Rules(k) => rules::call(dev, k, method, &p, ctx),
        ModuleKind::Time => time::call(dev, method, &p),
        ModuleKind::Cloud => cloud::call(dev, method, &p),
        ModuleKind::Netif => netif::call(dev, method, &p),
        ModuleKind::Dimmer => dimmer::call(dev, method, &p),
        ModuleKind::Recorded => Err(CallError::NoSuchMethod),
    };
    Outcome::Reply(match result {
        Ok(mut m) => {
            m.insert("err_code".into(), json!(0));
            Value::Object(m)
        }
        Err(CallError::NoReply) => return Outcome::NoReply,
        Err(CallError::NoSuchMethod) => {
            recorded(dev, module, method).unwrap_or_else(|| error(-2, "member not support"))
        }
        Err(CallError::InvalidArgument) => error(-3, "invalid argument"),
        Err(CallError::EntryNotExist) => error(-14, "entry not exist"),
        Err(CallError::Code(code, msg)) => error(code, msg),
    })
}

fn recorded(dev: &DeviceState, module: &str, method: &str) -> Option<Value> {
    dev.profile().static_replies().get(module)?.get(method).cloned()
}

/// An empty successful result.
pub(crate) fn ok() -> CallResult {
    Ok(Map::new())
}

/// A successful result from a `json!` object.
pub(crate) fn ok_with(v: Value) -> CallResult {
    match v {
        Value::Object(m) => Ok(m),
        _ => Ok(Map::new()),
    }
}
