//! Parsing and resolving `HOST[:PORT]` arguments.

use std::net::{IpAddr, SocketAddr};

use anyhow::{bail, Context, Result};

/// Splits `HOST[:PORT]` (IPv6 as `[addr]:port` or bare) into host and port.
pub fn split(spec: &str, default_port: u16) -> Result<(String, u16)> {
    let spec = spec.trim();
    if spec.is_empty() {
        bail!("empty host");
    }
    if let Ok(ip) = spec.parse::<IpAddr>() {
        return Ok((ip.to_string(), default_port));
    }
    if let Ok(sa) = spec.parse::<SocketAddr>() {
        return Ok((sa.ip().to_string(), sa.port()));
    }
    match spec.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            let port: u16 =
                port.parse().with_context(|| format!("`{port}` in `{spec}` is not a port number"))?;
            if host.is_empty() {
                bail!("`{spec}` has no host before the port");
            }
            Ok((host.to_string(), port))
        }
        Some(_) => bail!("`{spec}` is not HOST, HOST:PORT or [IPv6]:PORT"),
        None => Ok((spec.to_string(), default_port)),
    }
}

/// Resolves `HOST[:PORT]` to one socket address (IPv4 preferred).
pub async fn resolve(spec: &str, default_port: u16) -> Result<SocketAddr> {
    let (host, port) = split(spec, default_port)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .with_context(|| format!("cannot resolve host `{host}`"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .with_context(|| format!("host `{host}` has no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(split("127.0.0.2", 9999).unwrap(), ("127.0.0.2".into(), 9999));
        assert_eq!(split("127.0.0.2:1234", 9999).unwrap(), ("127.0.0.2".into(), 1234));
        assert_eq!(split("plug.lan:80", 9999).unwrap(), ("plug.lan".into(), 80));
        assert_eq!(split("::1", 9999).unwrap(), ("::1".into(), 9999));
        assert_eq!(split("[::1]:5", 9999).unwrap(), ("::1".into(), 5));
        assert!(split("h:99999", 9999).is_err());
        assert!(split(":5", 9999).is_err());
        assert!(split("", 9999).is_err());
    }
}
