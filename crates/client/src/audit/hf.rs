//! Hi-Flying checks (hf-protocol.md §1.3, §1.5, §3.7): the control channel, the factory
//! assist password and what it reveals (the home Wi-Fi key, the Wi-Fi mode), and the web
//! page's factory login.
//!
//! The assist session here only reads: the password, `+ok`, `AT+WSSSID`, `AT+WSKEY`,
//! `AT+WMODE`, then `AT+Q` (leave command mode). Nothing is ever set.

use std::net::{IpAddr, SocketAddr};

use plugctl_proto::hf::{
    assist::{AssistReply, WMode, WsKey},
    DEFAULT_ASSIST_PASSWORD,
};

use super::{
    assist::AssistSession,
    web::{self, WebResult},
    AuditOptions, Check, Finding, PlugRef, Severity,
};
use crate::{
    error::{Error, Result},
    hf::{HfConfig, HfDevice, HfFailure},
};

/// What the assist protocol gave with the factory password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistFindings {
    /// The module's answer to the password.
    pub module: AssistReply,
    /// `AT+WSSSID`, if answered.
    pub ssid: Option<String>,
    /// `AT+WSKEY`, if answered and readable (`Err` carries the raw reply problem).
    pub key: Option<Result<WsKey, String>>,
    /// `AT+WMODE`, if answered and known.
    pub mode: Option<WMode>,
}

/// Runs every Hi-Flying check on `dev`.
pub(super) async fn audit(dev: &HfDevice, plug: &PlugRef, opts: &AuditOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    match dev.measure().await {
        Ok(_) => out.push(Finding::new(
            plug,
            Check::Reachable,
            Severity::Ok,
            format!("answers on control port {}", plug.port),
        )),
        Err(e) => out.push(
            Finding::new(plug, Check::Reachable, Severity::OfflineRisk, format!("no answer: {e}"))
                .advice("check that the plug is powered and on this network"),
        ),
    }
    out.push(protocol_finding(plug));
    let cfg = dev.config();
    let web_addr = SocketAddr::new(dev.ip(), opts.http_port);
    let (assist, web) =
        tokio::join!(read_with_factory_password(dev.ip(), cfg), web::probe(web_addr, cfg.timeout));
    let factory_assist = assist.is_ok();
    match assist {
        Ok(a) => out.extend(assist_findings(plug, cfg, Some(&a), opts.show_secrets)),
        Err(Error::Hf { error: HfFailure::AssistNoAnswer { .. }, .. }) => {
            out.extend(assist_findings(plug, cfg, None, opts.show_secrets))
        }
        Err(e) => out.push(Finding::new(
            plug,
            Check::AssistPassword,
            Severity::Info,
            format!("could not check the assist protocol: {e}"),
        )),
    }
    out.push(web_finding(plug, cfg, opts.http_port, factory_assist, &web));
    out
}

/// TCP 8899 has no authentication.
pub fn protocol_finding(plug: &PlugRef) -> Finding {
    Finding::new(
        plug,
        Check::LocalProtocol,
        Severity::Info,
        "the control port has no authentication: anyone on this network can switch the plug and \
         read its meter",
    )
    .advice("keep the plug on an isolated network (IoT VLAN or SSID) that untrusted hosts cannot reach")
}

/// `plugctl hf-passwords` for this plug: `args` are the changes; the current assist
/// password is asked for unless the factory one works.
pub fn logins_command(plug: &PlugRef, cfg: &HfConfig, factory_assist: bool, args: &str) -> String {
    let udp = if cfg.udp_port == plugctl_proto::hf::UDP_PORT {
        String::new()
    } else {
        format!(" --udp-port {}", cfg.udp_port)
    };
    let current = if factory_assist { "" } else { " --assist-password <CURRENT>" };
    format!("plugctl hf-passwords {}{udp}{current} {args}", plug.host)
}

/// What the `hf-passwords` fixes rely on.
const LOGINS_ADVICE: &str = "AT+WEBU/AT+ASWD are Hi-Flying module commands, unverified on Reco \
     firmware (plugctl reads the value back); whatever the result, keep the plug on an isolated network";

/// `wifi join` for this plug (SSID if known).
fn join_command(plug: &PlugRef, cfg: &HfConfig, ssid: Option<&str>) -> String {
    let ssid = ssid.filter(|s| !s.is_empty()).map_or_else(|| "<SSID>".to_string(), shell_word);
    let udp = if cfg.udp_port == plugctl_proto::hf::UDP_PORT {
        String::new()
    } else {
        format!(" --udp-port {}", cfg.udp_port)
    };
    format!("plugctl wifi join {} {ssid} --family hf{udp} --password <KEY>", plug.command_target())
}

/// Quotes a word for a POSIX shell when needed.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/@".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The assist findings (see [`read_with_factory_password`]).
pub fn assist_findings(
    plug: &PlugRef,
    cfg: &HfConfig,
    assist: Option<&AssistFindings>,
    show_secrets: bool,
) -> Vec<Finding> {
    let port = cfg.udp_port;
    let Some(a) = assist else {
        return vec![
            Finding::new(
                plug,
                Check::AssistPassword,
                Severity::Ok,
                format!(
                    "the factory assist password {DEFAULT_ASSIST_PASSWORD} gets no answer on UDP {port} \
                     (changed, or set-up mode is off)"
                ),
            ),
            Finding::new(
                plug,
                Check::WifiKey,
                Severity::Ok,
                "the Wi-Fi key cannot be read with the factory assist password",
            ),
        ];
    };
    let mut out = vec![Finding::new(
        plug,
        Check::AssistPassword,
        Severity::Risk,
        format!(
            "the factory assist password {DEFAULT_ASSIST_PASSWORD} opens the set-up protocol on UDP {port} \
             ({} {}): anyone on this network can read the Wi-Fi settings, re-point the plug to another \
             network or factory-reset it",
            a.module.module_id, a.module.mac
        ),
    )
    .fix(logins_command(plug, cfg, true, "--new-assist-password <NEW>"))
    .advice(format!(
        "afterwards give `plugctl wifi` the new password with --assist-password; {LOGINS_ADVICE}"
    ))];
    let net = a.ssid.as_deref().map(|s| format!(" of network \"{s}\"")).unwrap_or_default();
    match &a.key {
        Some(Ok(k)) if k.key().is_empty() => out.push(Finding::new(
            plug,
            Check::WifiKey,
            Severity::Risk,
            format!(
                "the Wi-Fi settings{net} are readable and the network is open ({},{}): no key",
                k.auth(),
                k.encryption()
            ),
        )),
        Some(Ok(k)) => {
            let secret = if show_secrets { format!("; the key is \"{}\"", k.key()) } else { String::new() };
            out.push(
                Finding::new(
                    plug,
                    Check::WifiKey,
                    Severity::Risk,
                    format!(
                        "the Wi-Fi key{net} is readable in clear text with AT+WSKEY ({},{}, {} characters){secret}",
                        k.auth(),
                        k.encryption(),
                        k.key().chars().count()
                    ),
                )
                .fix(logins_command(plug, cfg, true, "--new-assist-password <NEW>"))
                .advice(
                    "once the assist password is changed the key is no longer readable; until then give the \
                     plug its own IoT network whose key opens nothing else, and change the key of any \
                     network it was ever on if untrusted devices shared that network",
                ),
            );
        }
        Some(Err(why)) => out.push(Finding::new(
            plug,
            Check::WifiKey,
            Severity::Info,
            format!("AT+WSKEY did not give a readable key ({why})"),
        )),
        None => out.push(Finding::new(plug, Check::WifiKey, Severity::Info, "AT+WSKEY got no answer")),
    }
    match a.mode {
        Some(m @ (WMode::Ap | WMode::ApSta)) => out.push(
            Finding::new(
                plug,
                Check::AccessPoint,
                Severity::Risk,
                format!(
                    "the plug runs its own access point (WMODE={m}), protected only by the key on its label; \
                     whoever joins it reaches the plug"
                ),
            )
            .fix(join_command(plug, cfg, a.ssid.as_deref())),
        ),
        Some(WMode::Sta) => out.push(Finding::new(
            plug,
            Check::AccessPoint,
            Severity::Ok,
            "station mode only (WMODE=STA): no access point of its own",
        )),
        None => {
            out.push(Finding::new(plug, Check::AccessPoint, Severity::Info, "AT+WMODE got no usable answer"))
        }
    }
    out
}

/// The web page finding (`factory_assist`: whether the factory assist password works, for
/// the fixing command).
pub fn web_finding(
    plug: &PlugRef,
    cfg: &HfConfig,
    port: u16,
    factory_assist: bool,
    web: &WebResult,
) -> Finding {
    match web {
        WebResult::Unreachable(why) => {
            Finding::new(plug, Check::WebPassword, Severity::Info, format!("no web page found: {why}"))
        }
        WebResult::NoLogin(status) => Finding::new(
            plug,
            Check::WebPassword,
            Severity::Risk,
            format!("the web page on TCP {port} answers without any login (HTTP {status})"),
        )
        .advice("keep the plug on an isolated network"),
        WebResult::Accepted { user, password } => Finding::new(
            plug,
            Check::WebPassword,
            Severity::Risk,
            format!(
                "the web page on TCP {port} accepts the factory login {user}/{password} (HTTP Basic, sent in clear)"
            ),
        )
        .fix(logins_command(plug, cfg, factory_assist, "--web-user <USER> --web-password <PASSWORD>"))
        .advice(LOGINS_ADVICE),
        WebResult::Rejected => Finding::new(
            plug,
            Check::WebPassword,
            Severity::Ok,
            format!(
                "the web page on TCP {port} refuses the factory logins {}",
                web::FACTORY_LOGINS.map(|(u, p)| format!("{u}/{p}")).join(" and ")
            ),
        ),
    }
}

/// Opens an assist session with the factory password and reads the Wi-Fi settings.
/// [`HfFailure::AssistNoAnswer`] when the password gets no answer (a wrong password is
/// ignored by the module).
pub async fn read_with_factory_password(ip: IpAddr, cfg: &HfConfig) -> Result<AssistFindings> {
    let (s, module) = AssistSession::open(ip, cfg, DEFAULT_ASSIST_PASSWORD).await?;
    let ssid = s.query("WSSSID").await.ok();
    let key = match s.query("WSKEY").await {
        Ok(v) => Some(WsKey::parse(&v).map_err(|e| e.to_string())),
        Err(Error::Timeout { .. }) => None,
        Err(e) => Some(Err(e.to_string())),
    };
    let mode = s.query("WMODE").await.ok().and_then(|v| v.parse().ok());
    s.quit().await;
    Ok(AssistFindings { module, ssid, key, mode })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Family;

    fn plug() -> PlugRef {
        PlugRef { host: "127.0.0.7".into(), port: 8899, family: Some(Family::Hf), model: None, alias: None }
    }

    fn assist(key: &str, mode: WMode) -> AssistFindings {
        AssistFindings {
            module: AssistReply::parse(b"127.0.0.7,ACCF23000001,HF-LPB100").unwrap(),
            ssid: Some("Home Net".into()),
            key: Some(WsKey::parse(key).map_err(|e| e.to_string())),
            mode: Some(mode),
        }
    }

    #[test]
    fn the_key_is_shown_only_on_request() {
        let cfg = HfConfig::default();
        let a = assist("WPA2PSK,AES,correct horse battery", WMode::ApSta);
        let hidden = assist_findings(&plug(), &cfg, Some(&a), false);
        let text = format!("{hidden:?}");
        assert!(!text.contains("correct horse"), "{text}");
        let key = hidden.iter().find(|f| f.check == Check::WifiKey).unwrap();
        assert_eq!(key.severity, Severity::Risk);
        assert!(key.detail.contains("21 characters") && key.detail.contains("WPA2PSK,AES"), "{}", key.detail);
        assert_eq!(key.fix.as_deref(), Some("plugctl hf-passwords 127.0.0.7 --new-assist-password <NEW>"));
        let shown = assist_findings(&plug(), &cfg, Some(&a), true);
        assert!(format!("{shown:?}").contains("correct horse battery"));
        let ap = hidden.iter().find(|f| f.check == Check::AccessPoint).unwrap();
        assert_eq!(ap.severity, Severity::Risk);
        assert_eq!(
            ap.fix.as_deref(),
            Some("plugctl wifi join 127.0.0.7 'Home Net' --family hf --password <KEY>")
        );
    }

    #[test]
    fn no_answer_to_the_factory_password_is_fine() {
        let cfg = HfConfig { udp_port: 4000, ..HfConfig::default() };
        let f = assist_findings(&plug(), &cfg, None, false);
        assert!(f.iter().all(|f| f.severity == Severity::Ok), "{f:?}");
        let sta = assist_findings(&plug(), &cfg, Some(&assist("OPEN,NONE", WMode::Sta)), false);
        assert_eq!(sta.iter().find(|f| f.check == Check::AccessPoint).unwrap().severity, Severity::Ok);
        assert!(sta.iter().find(|f| f.check == Check::WifiKey).unwrap().detail.contains("open"));
    }

    #[test]
    fn web_findings() {
        let cfg = HfConfig::default();
        let admin = WebResult::Accepted { user: "ADMIN", password: "ADMIN" };
        let accepted = web_finding(&plug(), &cfg, 80, true, &admin);
        assert_eq!(accepted.severity, Severity::Risk);
        assert!(accepted.detail.contains("ADMIN/ADMIN") && accepted.advice.unwrap().contains("AT+WEBU"));
        assert_eq!(
            accepted.fix.as_deref(),
            Some("plugctl hf-passwords 127.0.0.7 --web-user <USER> --web-password <PASSWORD>")
        );
        let other = HfConfig { udp_port: 4000, ..cfg.clone() };
        assert_eq!(
            web_finding(&plug(), &other, 80, false, &admin).fix.as_deref(),
            Some("plugctl hf-passwords 127.0.0.7 --udp-port 4000 --assist-password <CURRENT> --web-user <USER> --web-password <PASSWORD>")
        );
        assert_eq!(web_finding(&plug(), &cfg, 80, true, &WebResult::Rejected).severity, Severity::Ok);
        assert_eq!(
            web_finding(&plug(), &cfg, 80, true, &WebResult::Unreachable("x".into())).severity,
            Severity::Info
        );
        assert_eq!(shell_word("HomeNet"), "HomeNet");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
