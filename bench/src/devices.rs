//! The fleet an emulator announced: `plugctl emulate kasa --json` prints one JSON object per
//! device (`{"host":…,"port":…,…}`); the driver saves them to a file the binaries read.

use std::net::{IpAddr, SocketAddr};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

#[derive(Deserialize)]
struct Line {
    host: IpAddr,
    port: u16,
}

/// The first `count` device addresses in `text` (JSON lines; other lines are skipped).
/// Fails if there are fewer than `count`.
pub fn parse(text: &str, count: usize) -> Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .map(|l| SocketAddr::new(l.host, l.port))
        .take(count)
        .collect();
    if addrs.len() < count {
        bail!("the fleet file lists {} devices, {count} wanted", addrs.len());
    }
    Ok(addrs)
}

/// Reads the first `count` device addresses from the file at `path`.
pub fn load(path: &str, count: usize) -> Result<Vec<SocketAddr>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    parse(&text, count).with_context(|| format!("in {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hosts_and_ports() -> Result<()> {
        let text = "{\"host\":\"127.0.0.2\",\"port\":4000,\"model\":\"x\"}\nnoise\n{\"host\":\"127.0.0.3\",\"port\":4000}\n";
        assert_eq!(parse(text, 2)?, vec!["127.0.0.2:4000".parse()?, "127.0.0.3:4000".parse()?]);
        assert_eq!(parse(text, 1)?.len(), 1);
        assert!(parse(text, 3).is_err());
        Ok(())
    }
}
