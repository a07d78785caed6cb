//! Parsing and resolving `HOST[:PORT]` arguments.

use std::net::{IpAddr, SocketAddr};

use anyhow::{bail, Context, Result};

/// Splits `HOST[:PORT]` (IPv6 as `[addr]:port` or bare) into host and optional port.
pub fn split(spec: &str) -> Result<(String, Option<u16>)> {
    let spec = spec.trim();
    if spec.is_empty() {
        bail!("empty host");
    }
    if let Ok(ip) = spec.parse::<IpAddr>() {
        return Ok((ip.to_string(), None));
    }
    if let Ok(sa) = spec.parse::<SocketAddr>() {
        return Ok((sa.ip().to_string(), Some(sa.port())));
    }
    match spec.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            let port: u16 =
                port.parse().with_context(|| format!("`{port}` in `{spec}` is not a port number"))?;
            if host.is_empty() {
                bail!("`{spec}` has no host before the port");
            }
            Ok((host.to_string(), Some(port)))
        }
        Some(_) => bail!("`{spec}` is not HOST, HOST:PORT or [IPv6]:PORT"),
        None => Ok((spec.to_string(), None)),
    }
}

/// Resolves a host name or address to one IP (IPv4 preferred).
pub async fn resolve_host(host: &str) -> Result<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .with_context(|| format!("cannot resolve host `{host}`"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .map(|a| a.ip())
        .with_context(|| format!("host `{host}` has no address"))
}

/// Resolves `HOST[:PORT]` to an IP and the port, if one was given.
pub async fn resolve(spec: &str) -> Result<(IpAddr, Option<u16>)> {
    let (host, port) = split(spec)?;
    Ok((resolve_host(&host).await?, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(split("127.0.0.2").unwrap(), ("127.0.0.2".into(), None));
        assert_eq!(split("127.0.0.2:1234").unwrap(), ("127.0.0.2".into(), Some(1234)));
        assert_eq!(split("plug.lan:80").unwrap(), ("plug.lan".into(), Some(80)));
        assert_eq!(split("::1").unwrap(), ("::1".into(), None));
        assert_eq!(split("[::1]:5").unwrap(), ("::1".into(), Some(5)));
        assert!(split("h:99999").is_err());
        assert!(split(":5").is_err());
        assert!(split("").is_err());
    }
}
