//! Fleet addresses: consecutive IPv4 addresses from a base, skipping host octets 0 and 255
//! (127.0.0.254 is followed by 127.0.1.1), never leaving 127.0.0.0/8 when the base is in it.

use std::{io, net::Ipv4Addr};

/// `count` consecutive usable addresses starting at `base`.
pub fn consecutive(base: Ipv4Addr, count: usize) -> io::Result<Vec<Ipv4Addr>> {
    let mut out = Vec::with_capacity(count);
    let mut next = u64::from(u32::from(base));
    while out.len() < count {
        let Ok(raw) = u32::try_from(next) else { return Err(exhausted(base, count)) };
        let ip = Ipv4Addr::from(raw);
        next += 1;
        let last = ip.octets()[3];
        if last == 0 || last == 255 {
            continue;
        }
        if base.is_loopback() && !ip.is_loopback() {
            return Err(exhausted(base, count));
        }
        out.push(ip);
    }
    Ok(out)
}

fn exhausted(base: Ipv4Addr, count: usize) -> io::Error {
    let scope = if base.is_loopback() { "127.0.0.0/8" } else { "the IPv4 space" };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("a fleet of {count} devices from {base} does not fit in {scope}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_network_and_broadcast_octets() {
        let a = consecutive(Ipv4Addr::new(127, 0, 0, 253), 4).unwrap();
        assert_eq!(
            a,
            [
                Ipv4Addr::new(127, 0, 0, 253),
                Ipv4Addr::new(127, 0, 0, 254),
                Ipv4Addr::new(127, 0, 1, 1),
                Ipv4Addr::new(127, 0, 1, 2)
            ]
        );
        let many = consecutive(Ipv4Addr::new(127, 0, 0, 2), 10_000).unwrap();
        assert_eq!(many.len(), 10_000);
        let mut sorted = many.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), 10_000);
        assert!(many.iter().all(|ip| ip.octets()[3] != 0 && ip.octets()[3] != 255));
        assert_eq!(consecutive(Ipv4Addr::new(127, 0, 0, 2), 0).unwrap().len(), 0);
    }

    #[test]
    fn stays_in_loopback() {
        assert!(consecutive(Ipv4Addr::new(127, 255, 255, 250), 3).is_ok());
        let e = consecutive(Ipv4Addr::new(127, 255, 255, 250), 10).unwrap_err();
        assert!(e.to_string().contains("127.0.0.0/8"), "{e}");
        assert!(consecutive(Ipv4Addr::new(255, 255, 255, 254), 2).is_err());
    }
}
