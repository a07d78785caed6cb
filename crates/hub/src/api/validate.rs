//! Checks of request values shared by the handlers: lengths, ranges and formats, each
//! failing with a problem that names the field (and never echoes an over-long value).

use super::problem::Problem;
use crate::model::DeviceId;

/// Longest device id accepted anywhere (ids are built from what devices report: `kasa-` and a
/// 40-hex-digit id, `hf-` and a MAC, `addr-IP-PORT`).
pub(crate) const MAX_DEVICE_ID: usize = 128;

/// Highest strip outlet index (the same as the scheduler's rules accept).
pub(crate) const MAX_OUTLET: usize = 63;

/// Longest instant (`from`, `to`) accepted, bytes.
pub(crate) const MAX_INSTANT: usize = 64;

/// Whether `id` may be a device id: 1 to [`MAX_DEVICE_ID`] bytes, no control characters and
/// no path separators.
fn device_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_DEVICE_ID
        && !id.chars().any(|c| c.is_control() || c == '/' || c == '\\')
}

/// A device id from a path: one that cannot exist is simply not found (its value is only
/// echoed when it is short and printable).
pub(crate) fn device_path(id: String) -> Result<DeviceId, Problem> {
    if device_id_ok(&id) {
        Ok(DeviceId(id))
    } else {
        Err(Problem::not_found("no device with this id"))
    }
}

/// A device id from a query parameter or a body field: malformed ones are refused (422).
pub(crate) fn device_field(field: &str, id: String) -> Result<DeviceId, Problem> {
    if device_id_ok(&id) {
        Ok(DeviceId(id))
    } else {
        Err(Problem::unprocessable(format!(
            "`{field}` is not a device id (1 to {MAX_DEVICE_ID} bytes, no control characters or slashes)"
        )))
    }
}

/// A strip outlet index: 0 to [`MAX_OUTLET`].
pub(crate) fn outlet(v: Option<usize>) -> Result<Option<usize>, Problem> {
    match v {
        Some(i) if i > MAX_OUTLET => Err(Problem::unprocessable(format!(
            "`outlet` = {i} is out of range: an outlet index is 0 to {MAX_OUTLET}"
        ))),
        v => Ok(v),
    }
}

/// A `HOST` or `HOST:PORT` (`[IPv6]:PORT`): a host name or IP address, and a port from 1 to
/// 65535 if one is given.
pub(crate) fn host(v: &str) -> Result<(), Problem> {
    let bad = |why: &str| Err(Problem::unprocessable(format!("`host`: {why}")));
    let v = v.trim();
    if v.is_empty() {
        return bad("must not be empty");
    }
    if v.len() > 255 {
        return bad("is longer than 255 bytes");
    }
    if v.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    if let Ok(sa) = v.parse::<std::net::SocketAddr>() {
        return if sa.port() == 0 { bad("port 0 is not a port") } else { Ok(()) };
    }
    let (name, port) = match v.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (v, None),
    };
    if let Some(p) = port {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => return bad("expected HOST or HOST:PORT with a port from 1 to 65535"),
            Ok(_) => {}
        }
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.split('.').all(label_ok) {
        Ok(())
    } else {
        bad("expected an IP address or a host name (letters, digits, `-` and `.`)")
    }
}

/// A UDP port: 1 to 65535.
pub(crate) fn udp_port(v: Option<u16>) -> Result<(), Problem> {
    match v {
        Some(0) => Err(Problem::unprocessable("`udp_port` must be from 1 to 65535")),
        _ => Ok(()),
    }
}

/// An instant parameter's length (the format is checked by `history::parse_instant`).
pub(crate) fn instant_len(name: &str, v: &str) -> Result<(), Problem> {
    if v.len() > MAX_INSTANT {
        return Err(Problem::bad_request(format!(
            "`{name}`: expected an RFC 3339 instant or Unix milliseconds (at most {MAX_INSTANT} bytes)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for ok in ["127.0.0.2", "127.0.0.2:9999", "plug.lan", "plug-1.lan:9999", "::1", "[::1]:9999"] {
            assert!(host(ok).is_ok(), "{ok}");
        }
        for bad in ["", " ", "127.0.0.2:0", "127.0.0.2:99999", "a/b", "-x.lan", "x..lan", "../etc", "h:p"] {
            assert!(host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_and_outlets() {
        assert!(device_path("kasa-8006ABC".into()).is_ok());
        assert!(device_path("../../etc/passwd".into()).is_err());
        assert!(device_path("x".repeat(MAX_DEVICE_ID + 1)).is_err());
        assert_eq!(device_field("device", "a\nb".into()).unwrap_err().status, 422);
        assert!(outlet(Some(MAX_OUTLET)).is_ok() && outlet(Some(MAX_OUTLET + 1)).is_err());
    }
}
