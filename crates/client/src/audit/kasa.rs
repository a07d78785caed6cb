//! Kasa checks: local protocol, cloud binding, firmware, clock (kasa-protocol.md §6, §8.3,
//! §8.4). The findings are built by pure functions ([`cloud_finding`],
//! [`firmware_finding`], [`clock_finding`], [`klap_finding`]) over what the plug reported,
//! so they can be tested without a plug.

use plugctl_proto::kasa::{DeviceErrorKind, SysInfo};
use serde_json::Value;

use super::{AuditOptions, Check, Finding, PlugRef, Severity};
use crate::{
    error::Error,
    kasa::{cloud::CloudInfo, klap::KlapEvidence, time::DeviceTime, KasaDevice},
};

/// Advice against firmware updates that drop local control.
const NO_UPDATE_ADVICE: &str =
    "do not install firmware updates (turn off automatic updates in the Kasa app) \
     and block the plug's internet access at the router so none can be pushed";

/// Hardware revisions for which TP-Link ships firmware without the port-9999 protocol
/// (kasa-protocol.md §6): model prefix and the first affected hardware major version.
pub const KLAP_HARDWARE: [(&str, u32); 5] =
    [("HS100", 4), ("HS105", 5), ("HS200", 5), ("HS300", 2), ("KP303", 2)];

/// Runs every Kasa check on `dev`.
pub(super) async fn audit(dev: &KasaDevice, plug: &PlugRef, opts: &AuditOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    let si = match dev.sysinfo().await {
        Ok(si) => si,
        Err(e) => {
            let probe = opts.klap.clone();
            let e = crate::kasa::klap::explain(e, &probe).await;
            if let Error::NewerFirmware { evidence, .. } = &e {
                out.push(klap_finding(plug, evidence));
            } else {
                out.push(
                    Finding::new(plug, Check::Reachable, Severity::OfflineRisk, format!("no answer: {e}"))
                        .advice("check that the plug is powered and on this network"),
                );
            }
            return out;
        }
    };
    out.push(Finding::new(
        plug,
        Check::Reachable,
        Severity::Ok,
        format!("answers the legacy protocol on port {}", plug.port),
    ));
    out.push(protocol_finding(plug));
    let cloud = match dev.cloud_info().await {
        Ok(info) => {
            out.push(cloud_finding(plug, &info));
            Some(info)
        }
        Err(e) => {
            out.push(unreadable(plug, Check::Cloud, "the cloud binding", &e));
            None
        }
    };
    let offered =
        if cloud.is_some() { dev.cloud_firmware_list().await.unwrap_or_default() } else { Vec::new() };
    out.push(firmware_finding(plug, &si, &offered));
    match dev.time().await {
        Ok(t) => out.push(clock_finding(plug, &t, opts.max_drift_s)),
        Err(e) => out.push(unreadable(plug, Check::Clock, "the clock", &e)),
    }
    out
}

fn unreadable(plug: &PlugRef, check: Check, what: &str, e: &Error) -> Finding {
    let not_there = e.device_error().is_some_and(|d| {
        matches!(d.kind(), DeviceErrorKind::ModuleNotSupported | DeviceErrorKind::MethodNotSupported)
    });
    if not_there {
        Finding::new(plug, check, Severity::Info, format!("the plug does not report {what}"))
    } else {
        Finding::new(plug, check, Severity::Info, format!("could not read {what}: {e}"))
    }
}

/// The protocol itself: no authentication, XOR obfuscation with a fixed key.
pub fn protocol_finding(plug: &PlugRef) -> Finding {
    Finding::new(
        plug,
        Check::LocalProtocol,
        Severity::Info,
        "the legacy protocol has no authentication and its XOR \"encryption\" (fixed key 0xAB) is \
         obfuscation, not encryption: anyone on this network can switch the plug, read it and \
         change its settings, including its Wi-Fi",
    )
    .advice("keep the plug on an isolated network (IoT VLAN or SSID) that untrusted hosts cannot reach")
}

/// The cloud binding: bound (or connected) plugs report to TP-Link's server.
pub fn cloud_finding(plug: &PlugRef, info: &CloudInfo) -> Finding {
    let target = plug.command_target();
    let server = if info.server.is_empty() { "(no server set)" } else { info.server.as_str() };
    let connected = if info.connected { "connected" } else { "not connected right now" };
    if info.bound {
        let account = if info.username.is_empty() { String::new() } else { format!(" {}", info.username) };
        Finding::new(
            plug,
            Check::Cloud,
            Severity::Risk,
            format!(
                "bound to the TP-Link account{account}: phones home to {server} ({connected}); the cloud \
                 can switch it, see its use and push firmware"
            ),
        )
        .fix(format!("plugctl cloud {target} unbind"))
        .advice(format!(
            "then block the plug's internet access at the router and keep its clock right with \
             `plugctl time {target} sync` (or `plugctl serve`)"
        ))
    } else if info.connected {
        Finding::new(
            plug,
            Check::Cloud,
            Severity::Risk,
            format!("not bound to an account but connected to {server}"),
        )
        .advice("block the plug's internet access at the router")
    } else {
        Finding::new(
            plug,
            Check::Cloud,
            Severity::Ok,
            format!("not bound to a TP-Link account (server {server})"),
        )
    }
}

/// `major.minor` of a `sw_ver` such as `1.0.4 Build 180220 Rel.180720`.
fn version(sw_ver: &str) -> Option<(u32, u32)> {
    let v = sw_ver.split_whitespace().next()?;
    let mut parts = v.split('.');
    let major = parts.next()?.trim().parse().ok()?;
    let minor = parts.next().and_then(|m| m.trim().parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// Whether TP-Link ships firmware without the local protocol for this model and hardware.
pub fn hardware_gets_klap(model: &str, hw_ver: &str) -> bool {
    let hw_major: Option<u32> = hw_ver.split('.').next().and_then(|m| m.trim().parse().ok());
    let model = model.to_ascii_uppercase();
    KLAP_HARDWARE
        .iter()
        .any(|(prefix, first)| model.starts_with(prefix) && hw_major.is_some_and(|h| h >= *first))
}

/// Firmware that has dropped or may drop local control: an update in progress or offered,
/// or hardware for which TP-Link ships KLAP-only firmware.
pub fn firmware_finding(plug: &PlugRef, si: &SysInfo, offered: &[Value]) -> Finding {
    let what = format!("{} hw {} firmware {}", si.model, si.hw_ver, si.sw_ver);
    let updating = si.extra.get("updating").and_then(Value::as_i64).unwrap_or(0) == 1;
    if updating {
        return Finding::new(
            plug,
            Check::Firmware,
            Severity::OfflineRisk,
            format!("{what}: a firmware update is in progress; newer firmware may drop the local protocol"),
        )
        .advice(NO_UPDATE_ADVICE);
    }
    if !offered.is_empty() {
        let versions: Vec<&str> = offered
            .iter()
            .filter_map(|f| f.get("fwVer").or_else(|| f.get("fw_ver")).and_then(Value::as_str))
            .collect();
        let list = if versions.is_empty() { String::new() } else { format!(" ({})", versions.join(", ")) };
        return Finding::new(
            plug,
            Check::Firmware,
            Severity::OfflineRisk,
            format!("{what}: the cloud offers {} firmware update(s){list}; newer firmware may drop the local protocol", offered.len()),
        )
        .advice(NO_UPDATE_ADVICE);
    }
    if hardware_gets_klap(&si.model, &si.hw_ver) {
        let newer = version(&si.sw_ver).is_some_and(|v| v >= (1, 1));
        let detail = if newer {
            format!(
                "{what}: TP-Link ships firmware for this hardware that drops the local protocol (port 9999)"
            )
        } else {
            format!(
                "{what}: TP-Link's firmware 1.1 and later for this hardware drops the local protocol (port \
                 9999); updating ends local control"
            )
        };
        return Finding::new(plug, Check::Firmware, Severity::OfflineRisk, detail).advice(NO_UPDATE_ADVICE);
    }
    Finding::new(
        plug,
        Check::Firmware,
        Severity::Ok,
        format!("{what} speaks the local protocol; no update is offered"),
    )
}

/// A plug on newer firmware: local control is already gone.
pub fn klap_finding(plug: &PlugRef, evidence: &KlapEvidence) -> Finding {
    let sign = match evidence {
        KlapEvidence::Handshake { port } => format!("the KLAP handshake answers on HTTP port {port}"),
        KlapEvidence::Discovery { port, encrypt_type, model } => {
            let m = model.as_deref().map(|m| format!(" as {m}")).unwrap_or_default();
            format!("it announces {encrypt_type} encryption{m} on UDP port {port}")
        }
    };
    Finding::new(
        plug,
        Check::Firmware,
        Severity::OfflineRisk,
        format!(
            "newer firmware: the local port-9999 protocol is gone ({sign}); plugctl cannot control \
             this plug without TP-Link cloud credentials"
        ),
    )
    .advice(
        "local control cannot be restored by plugctl (TP-Link does not offer downgrades); do not update \
         other plugs of this model, block this one's internet access or replace it",
    )
}

/// The clock: more than `max_drift_s` away from this computer's, or in an unknown zone.
pub fn clock_finding(plug: &PlugRef, t: &DeviceTime, max_drift_s: i64) -> Finding {
    let fix = format!("plugctl time {} sync", plug.command_target());
    let zone = t.zone().map(|z| format!("zone {} ({})", z.index, z.iana));
    match (t.drift_s(), zone) {
        (Some(d), Some(zone)) if d.abs() > max_drift_s => Finding::new(
            plug,
            Check::Clock,
            Severity::Risk,
            format!(
                "the clock is {} {} this computer's (device local time {}, {zone}): schedules and \
                 timers switch at the wrong time",
                human_secs(d.unsigned_abs()),
                if d > 0 { "ahead of" } else { "behind" },
                t.local
            ),
        )
        .fix(fix),
        (Some(d), Some(zone)) => Finding::new(
            plug,
            Check::Clock,
            Severity::Ok,
            format!("the clock is within {} s of this computer's ({zone})", d.abs()),
        ),
        _ => {
            let index = t.index.map_or_else(|| "none".to_string(), |i| i.to_string());
            Finding::new(
                plug,
                Check::Clock,
                Severity::Risk,
                format!(
                    "the time zone is not set to a known zone (index {index}; device local time {}): \
                     schedules may switch at the wrong time",
                    t.local
                ),
            )
            .fix(fix)
        }
    }
}

/// `3 d 4 h`, `5 h 2 min`, `90 s`.
fn human_secs(s: u64) -> String {
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Family;
    use jiff::{civil, Timestamp};
    use serde_json::json;

    fn plug(port: u16) -> PlugRef {
        PlugRef { host: "127.0.0.5".into(), port, family: Some(Family::Kasa), model: None, alias: None }
    }

    fn sysinfo(model: &str, hw: &str, sw: &str, updating: i64) -> SysInfo {
        let v = json!({"system":{"get_sysinfo":{
            "model": model, "hw_ver": hw, "sw_ver": sw, "alias": "x", "mac": "50:C7:BF:00:00:01",
            "deviceId": "0".repeat(40), "type": "IOT.SMARTPLUGSWITCH", "feature": "TIM",
            "relay_state": 0, "updating": updating, "err_code": 0}}});
        let resp = plugctl_proto::kasa::Response::parse(v.to_string().as_bytes()).unwrap();
        SysInfo::from_response(&resp).unwrap()
    }

    #[test]
    fn cloud_bound_is_a_risk_with_unbind() {
        let m = json!({"username":"a@b.c","server":"n-devs.tplinkcloud.com","binded":1,"cld_connection":1});
        let f = cloud_finding(&plug(4000), &CloudInfo::from_map(m.as_object().unwrap()));
        assert_eq!(f.severity, Severity::Risk);
        assert!(f.detail.contains("n-devs.tplinkcloud.com") && f.detail.contains("a@b.c"), "{}", f.detail);
        assert_eq!(f.fix.as_deref(), Some("plugctl cloud 127.0.0.5:4000 unbind"));
        let m = json!({"username":"","server":"devs.tplinkcloud.com","binded":0,"cld_connection":0});
        let f = cloud_finding(&plug(9999), &CloudInfo::from_map(m.as_object().unwrap()));
        assert_eq!((f.severity, f.fix), (Severity::Ok, None));
        let m = json!({"server":"devs.tplinkcloud.com","binded":0,"cld_connection":1});
        assert_eq!(
            cloud_finding(&plug(9999), &CloudInfo::from_map(m.as_object().unwrap())).severity,
            Severity::Risk
        );
    }

    #[test]
    fn firmware_risks() {
        let p = plug(9999);
        let ok = firmware_finding(&p, &sysinfo("HS110(EU)", "4.0", "1.0.4 Build 180220 Rel.180720", 0), &[]);
        assert_eq!(ok.severity, Severity::Ok);
        let hw = firmware_finding(&p, &sysinfo("HS100(UK)", "4.1", "1.0.6 Build 1", 0), &[]);
        assert_eq!(hw.severity, Severity::OfflineRisk);
        assert!(hw.detail.contains("firmware 1.1 and later"), "{}", hw.detail);
        assert_eq!(
            firmware_finding(&p, &sysinfo("HS100(US)", "2.0", "1.5.6", 0), &[]).severity,
            Severity::Ok
        );
        assert_eq!(
            firmware_finding(&p, &sysinfo("KP303(UK)", "2.0", "1.0.3", 0), &[]).severity,
            Severity::OfflineRisk
        );
        let upd = firmware_finding(&p, &sysinfo("HS110(EU)", "1.0", "1.2.5", 1), &[]);
        assert!(upd.severity == Severity::OfflineRisk && upd.detail.contains("in progress"));
        let offered =
            firmware_finding(&p, &sysinfo("HS110(EU)", "1.0", "1.2.5", 0), &[json!({"fwVer":"1.2.6"})]);
        assert!(
            offered.severity == Severity::OfflineRisk && offered.detail.contains("1.2.6"),
            "{}",
            offered.detail
        );
        assert!(hardware_gets_klap("hs105(us)", "5.0") && !hardware_gets_klap("HS105(US)", "1.0"));
        assert!(!hardware_gets_klap("HS100(UK)", "x"));
    }

    #[test]
    fn clock_drift_and_unknown_zone() {
        let read_at: Timestamp = "2026-07-01T10:00:00Z".parse().unwrap();
        let t = DeviceTime {
            local: civil::date(2026, 7, 1).at(12, 0, 30, 0),
            index: Some(41),
            zone_str: None,
            read_at,
        };
        let p = plug(9999);
        assert_eq!(clock_finding(&p, &t, 60).severity, Severity::Ok);
        let late = DeviceTime { local: civil::date(2016, 1, 1).at(10, 10, 10, 0), ..t.clone() };
        let f = clock_finding(&p, &late, 60);
        assert_eq!(f.severity, Severity::Risk);
        assert!(f.detail.contains("behind"), "{}", f.detail);
        assert_eq!(f.fix.as_deref(), Some("plugctl time 127.0.0.5 sync"));
        let ahead = DeviceTime { local: civil::date(2026, 7, 1).at(12, 5, 0, 0), ..t.clone() };
        assert!(clock_finding(&p, &ahead, 60).detail.contains("5 min ahead"));
        let unknown = DeviceTime { index: None, ..t };
        let f = clock_finding(&p, &unknown, 60);
        assert!(f.severity == Severity::Risk && f.detail.contains("index none"), "{}", f.detail);
    }

    #[test]
    fn klap_findings_name_the_sign() {
        let e = KlapEvidence::Discovery {
            port: 20002,
            encrypt_type: "KLAP".into(),
            model: Some("HS100(UK)".into()),
        };
        let f = klap_finding(&plug(9999), &e);
        assert_eq!((f.check, f.severity), (Check::Firmware, Severity::OfflineRisk));
        assert!(f.detail.contains("KLAP") && f.detail.contains("HS100(UK)"));
        assert_eq!(human_secs(30), "30 s");
        assert_eq!(human_secs(3 * 86_400 + 7200), "3 d 2 h");
    }
}
