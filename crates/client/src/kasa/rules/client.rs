//! The calls: [`Rules`] per module and outlet, and the device clock for one-shot checks.

use std::marker::PhantomData;

use plugctl_proto::kasa::Request;
use serde_json::{json, Map, Value};

use super::{fields::flag, DeviceRule, LocalNow, RuleDate, RuleError, RuleList};
use crate::{
    error::{Error, Result},
    kasa::KasaDevice,
};

/// The rules of one module on a device or one strip outlet. See the module docs.
#[derive(Debug, Clone)]
pub struct Rules<'a, R> {
    dev: &'a KasaDevice,
    child: Option<String>,
    kind: PhantomData<R>,
}

impl KasaDevice {
    /// The schedule rules (`schedule`) of the device, or of strip outlet `child` (full id,
    /// 2-digit suffix or 0-based index). Without `child` a strip's rules switch all outlets.
    pub fn schedule(&self, child: Option<&str>) -> Rules<'_, crate::kasa::schedule::ScheduleRule> {
        Rules { dev: self, child: child.map(str::to_string), kind: PhantomData }
    }

    /// The away-mode rules (`anti_theft`) of the device or of strip outlet `child`.
    pub fn away(&self, child: Option<&str>) -> Rules<'_, crate::kasa::away::AwayRule> {
        Rules { dev: self, child: child.map(str::to_string), kind: PhantomData }
    }

    /// The device's local date and time (`time.get_time`).
    pub async fn local_now(&self) -> Result<LocalNow> {
        let resp = self.query(&Request::call("time", "get_time")).await?;
        let m = resp.result("time", "get_time").map_err(|e| Error::from_response(self.addr(), e))?;
        let n = |k: &str| m.get(k).and_then(Value::as_i64);
        let malformed = || Error::Reply {
            addr: self.addr(),
            error: plugctl_proto::kasa::ResponseError::Malformed {
                what: "time",
                detail: format!("not a date and time: {}", Value::Object(m.clone())),
            },
        };
        let (Some(y), Some(mo), Some(d), Some(h), Some(mi)) =
            (n("year"), n("month"), n("mday"), n("hour"), n("min"))
        else {
            return Err(malformed());
        };
        let date = i16::try_from(y)
            .ok()
            .zip(i8::try_from(mo).ok())
            .zip(i8::try_from(d).ok())
            .and_then(|((y, mo), d)| jiff::civil::Date::new(y, mo, d).ok())
            .ok_or_else(malformed)?;
        let minute = u16::try_from(h * 60 + mi).ok().filter(|m| *m < 1440).ok_or_else(malformed)?;
        Ok(LocalNow { date: RuleDate { year: date.year(), month: date.month(), day: date.day() }, minute })
    }
}

impl<R: DeviceRule> Rules<'_, R> {
    /// Sends one call of this module (with the outlet's context) and returns its result.
    async fn call(&self, method: &str, params: Value) -> Result<Map<String, Value>> {
        let mut req = Request::new().with(R::MODULE, method, params);
        if let Some(spec) = &self.child {
            req = req.for_children([self.resolve(spec).await?]);
        }
        let resp = self.dev.query(&req).await?;
        resp.result(R::MODULE, method).cloned().map_err(|e| Error::from_response(self.dev.addr(), e))
    }

    async fn resolve(&self, spec: &str) -> Result<String> {
        if let Some(c) = self.dev.last_sysinfo().and_then(|i| i.child(spec).map(|c| c.id.clone())) {
            return Ok(c);
        }
        let info = self.dev.sysinfo().await?;
        info.child(spec).map(|c| c.id.clone()).ok_or_else(|| Error::NoSuchChild {
            addr: self.dev.addr(),
            child: spec.to_string(),
            valid: info.children.iter().map(|c| c.id.clone()).collect(),
        })
    }

    fn invalid(&self, e: RuleError) -> Error {
        Error::InvalidArgument { addr: self.dev.addr(), reason: e.to_string() }
    }

    /// Reads the rules and the overall switch (`get_rules`). A malformed rule is
    /// [`Error::Reply`].
    pub async fn list(&self) -> Result<RuleList<R>> {
        let m = self.call("get_rules", json!({})).await?;
        let enabled = m.get("enable").and_then(flag).unwrap_or(R::MODULE == "schedule");
        let mut rules = Vec::new();
        for r in m.get("rule_list").and_then(Value::as_array).map_or(&[][..], Vec::as_slice) {
            let obj = r.as_object().ok_or_else(|| self.malformed(format!("a rule is not an object: {r}")))?;
            rules.push(R::from_firmware(obj).map_err(|e| self.malformed(e.to_string()))?);
        }
        Ok(RuleList { enabled, rules })
    }

    fn malformed(&self, detail: String) -> Error {
        Error::Reply {
            addr: self.dev.addr(),
            error: plugctl_proto::kasa::ResponseError::Malformed { what: R::WHAT, detail },
        }
    }

    /// Adds a rule (`add_rule`) and returns the id the device gave it. The rule is checked
    /// first ([`Error::InvalidArgument`], nothing sent). A full table is the device's
    /// error -10 ([`Error::Device`] with
    /// [`DeviceErrorKind::TableFull`](plugctl_proto::kasa::DeviceErrorKind::TableFull)).
    pub async fn add(&self, rule: &R) -> Result<String> {
        rule.check().map_err(|e| self.invalid(e))?;
        let m = self.call("add_rule", Value::Object(rule.to_firmware())).await?;
        m.get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| self.malformed("add_rule reply has no id".into()))
    }

    /// Replaces a rule (`edit_rule` with the whole rule and its id). An unknown id is the
    /// device's error -14.
    pub async fn edit(&self, rule: &R) -> Result<()> {
        rule.check().map_err(|e| self.invalid(e))?;
        let mut body = rule.to_firmware();
        body.insert("id".into(), json!(rule.id()));
        self.call("edit_rule", Value::Object(body)).await.map(drop)
    }

    /// Deletes a rule by its full id (`delete_rule`); an unknown id is the device's error
    /// -14.
    pub async fn delete(&self, id: &str) -> Result<()> {
        self.call("delete_rule", json!({ "id": id })).await.map(drop)
    }

    /// Deletes every rule (`delete_all_rules`).
    pub async fn clear(&self) -> Result<()> {
        self.call("delete_all_rules", json!({})).await.map(drop)
    }

    /// Switches the whole list on or off (`set_overall_enable`); rules keep their own
    /// `enable`.
    pub async fn set_overall_enable(&self, on: bool) -> Result<()> {
        self.call("set_overall_enable", json!({ "enable": u8::from(on) })).await.map(drop)
    }
}
