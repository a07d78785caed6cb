//! `plugctl hf-passwords HOST …`: replaces a Hi-Flying plug's factory logins, the fix
//! `plugctl audit` prints for them: the web login (`AT+WEBU`) and the assist password
//! (`AT+ASWD`), over the assist protocol, each read back.

use anyhow::Result;
use clap::Args;
use plugctl_client::{
    audit::logins::{change_logins, NewLogins},
    hf::HfConfig,
    kasa::ClientConfig,
};
use serde_json::json;

use super::usage;
use crate::{args::DeviceArgs, output, target};

/// `plugctl hf-passwords`.
#[derive(Debug, Args)]
pub struct HfPasswordsArgs {
    /// The plug (HOST; its UDP port is --udp-port) and the current assist password
    /// (--assist-password, default the factory one).
    #[command(flatten)]
    pub device: DeviceArgs,
    /// New web user (1–15 printable ASCII characters, no comma).
    #[arg(long, value_name = "USER", requires = "web_password")]
    pub web_user: Option<String>,
    /// New web password (1–15 printable ASCII characters, no comma).
    #[arg(
        long,
        value_name = "PASS",
        env = "PLUGCTL_WEB_PASSWORD",
        hide_env_values = true,
        requires = "web_user"
    )]
    pub web_password: Option<String>,
    /// New assist password (1–20 printable ASCII characters, no comma). Later `plugctl wifi`
    /// commands need it as --assist-password.
    #[arg(long, value_name = "PASS", env = "PLUGCTL_NEW_ASSIST_PASSWORD", hide_env_values = true)]
    pub new_assist_password: Option<String>,
}

/// Runs the command.
pub async fn run(args: &HfPasswordsArgs) -> Result<()> {
    let d = &args.device;
    let web = match (&args.web_user, &args.web_password) {
        (Some(u), Some(p)) => Some((u.clone(), p.clone())),
        _ => None,
    };
    let new = NewLogins { web, assist_password: args.new_assist_password.clone() };
    if new.web.is_none() && new.assist_password.is_none() {
        return Err(usage("give --web-user and --web-password, --new-assist-password, or both"));
    }
    let (ip, _) = target::resolve(&d.host).await.map_err(|e| usage(format!("{}: {e:#}", d.host)))?;
    let client = ClientConfig {
        timeout: std::time::Duration::from_secs_f64(d.timeout),
        retries: d.retries,
        ..ClientConfig::default()
    };
    let cfg = HfConfig { udp_port: d.udp_port, ..HfConfig::from_client(&client) };
    let done = change_logins(ip, &cfg, &d.assist_password, &new).await?;
    if d.json {
        output::json_line(&json!({
            "host": ip.to_string(),
            "udp_port": cfg.udp_port,
            "mac": done.module.mac.to_string(),
            "module": done.module.module_id,
            "web_user": done.web_user,
            "assist_password_changed": done.assist_password_changed,
        }));
        return Ok(());
    }
    if let Some(u) = &done.web_user {
        println!("{ip}: web login set to user {u} (password read back and matching)");
    }
    if done.assist_password_changed {
        println!("{ip}: assist password changed; pass it to `plugctl wifi` with --assist-password");
    }
    Ok(())
}
