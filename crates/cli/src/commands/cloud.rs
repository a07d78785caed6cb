//! `plugctl cloud HOST …`: the TP-Link cloud binding (`cnCloud`, kasa-protocol.md §8.3).
//!
//! - `cloud HOST` / `cloud HOST info`: bound or not, account, server, connection;
//! - `cloud HOST bind --user U --password P` (`PLUGCTL_CLOUD_PASSWORD` may hold it);
//! - `cloud HOST unbind` (an unbound plug is not an error);
//! - `cloud HOST server URL`: the cloud host name the plug contacts.

use anyhow::Result;
use clap::{Args, Subcommand};
use plugctl_client::kasa::{cloud::CloudInfo, KasaDevice};
use serde_json::json;

use super::{device::open, usage};
use crate::{args::DeviceArgs, output};

/// `plugctl cloud`.
#[derive(Debug, Args)]
pub struct CloudArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// What to do (default: info).
    #[command(subcommand)]
    pub action: Option<CloudAction>,
}

/// `plugctl cloud HOST …`.
#[derive(Debug, Subcommand)]
pub enum CloudAction {
    /// Show the binding.
    Info,
    /// Bind the plug to a TP-Link account (the plug checks the credentials online).
    Bind {
        /// Account user name (e-mail).
        #[arg(long, value_name = "U")]
        user: String,
        /// Account password.
        #[arg(long, value_name = "P", env = "PLUGCTL_CLOUD_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Unbind the plug from its account (for cloud-free use).
    Unbind,
    /// Set the cloud server host name the plug contacts.
    Server {
        /// Host name, e.g. devs.tplinkcloud.com (a URL's host part is taken).
        url: String,
    },
}

/// Runs the command.
pub async fn run(args: &CloudArgs) -> Result<()> {
    let d = &args.device;
    if d.child.is_some() {
        return Err(usage("the cloud binding belongs to the whole strip; --child does not apply to `cloud`"));
    }
    let server = match &args.action {
        Some(CloudAction::Server { url }) => Some(server_name(url)?),
        Some(CloudAction::Bind { user, password }) if user.is_empty() || password.is_empty() => {
            return Err(usage("bind needs a non-empty --user and --password"));
        }
        _ => None,
    };
    let dev = open(d).await?;
    let Some(k) = dev.as_kasa() else {
        anyhow::bail!("{}: Hi-Flying plugs have no TP-Link cloud binding; only Kasa plugs do", dev.addr());
    };
    let (info, done) = match &args.action {
        None | Some(CloudAction::Info) => (k.cloud_info().await?, None),
        Some(CloudAction::Bind { user, password }) => (k.cloud_bind(user, password).await?, Some("bound")),
        Some(CloudAction::Unbind) => {
            let was = k.cloud_unbind().await?;
            (k.cloud_info().await?, Some(if was { "unbound" } else { "was not bound" }))
        }
        Some(CloudAction::Server { .. }) => {
            let name = server.unwrap_or_default();
            (k.cloud_set_server(&name).await?, Some("server set"))
        }
    };
    print(k, &info, done, d.json);
    Ok(())
}

fn print(k: &KasaDevice, info: &CloudInfo, done: Option<&str>, json_out: bool) {
    let addr = k.addr();
    if json_out {
        let mut doc = json!({
            "host": addr.ip().to_string(),
            "port": addr.port(),
            "bound": info.bound,
            "connected": info.connected,
            "username": info.username,
            "server": info.server,
            "raw": info.raw,
        });
        if let Some(d) = done {
            doc["result"] = json!(d);
        }
        output::json_line(&doc);
        return;
    }
    if let Some(d) = done {
        println!("{addr}: {d}");
    }
    println!("bound      {}", if info.bound { "yes" } else { "no" });
    if info.bound {
        println!("account    {}", info.username);
    }
    println!("connected  {}", if info.connected { "yes" } else { "no" });
    println!("server     {}", info.server);
}

/// The host part of a URL or host name (`https://x.example/path` → `x.example`).
fn server_name(url: &str) -> Result<String> {
    let s = url.trim();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let host = s.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(usage(format!("`{url}` is not a server host name like devs.tplinkcloud.com")));
    }
    Ok(host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names() {
        assert_eq!(server_name("devs.tplinkcloud.com").unwrap(), "devs.tplinkcloud.com");
        assert_eq!(server_name("https://n-devs.tplinkcloud.com/x?y").unwrap(), "n-devs.tplinkcloud.com");
        assert!(server_name("https://").is_err());
        assert!(server_name("a b").is_err());
    }
}
