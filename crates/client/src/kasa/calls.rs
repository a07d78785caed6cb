//! Small helpers the feature modules (energy, time, cloud, system) share, written against
//! the public [`KasaDevice`] API only.

use std::sync::Arc;

use plugctl_proto::kasa::{ChildInfo, Request, SysInfo};
use serde_json::{Map, Value};

use super::KasaDevice;
use crate::error::{Error, Result};

/// Sends `req` and returns the result object of `module.method`; device error codes become
/// [`Error::Device`].
pub(super) async fn call(
    dev: &KasaDevice,
    req: &Request,
    module: &str,
    method: &str,
) -> Result<Map<String, Value>> {
    let resp = dev.query(req).await?;
    resp.result(module, method).cloned().map_err(|e| Error::from_response(dev.addr(), e))
}

/// The remembered sysinfo, read from the device if there is none yet.
pub(super) async fn known(dev: &KasaDevice) -> Result<Arc<SysInfo>> {
    if let Some(info) = dev.last_sysinfo() {
        return Ok(info);
    }
    dev.sysinfo().await?;
    dev.last_sysinfo().ok_or_else(|| Error::Unsupported {
        addr: dev.addr(),
        reason: "the device's sysinfo could not be kept".into(),
    })
}

/// Resolves an outlet name (full id, 2-digit suffix, 0-based index) to `(index, outlet)`,
/// re-reading sysinfo once on a miss.
pub(super) async fn outlet(dev: &KasaDevice, child: &str) -> Result<(usize, ChildInfo)> {
    let find = |info: &SysInfo| {
        info.child(child)
            .and_then(|c| info.children.iter().position(|x| x.id == c.id).map(|i| (i, c.clone())))
    };
    if let Some(found) = dev.last_sysinfo().as_deref().and_then(find) {
        return Ok(found);
    }
    let info = dev.sysinfo().await?;
    find(&info).ok_or_else(|| Error::NoSuchChild {
        addr: dev.addr(),
        child: child.to_string(),
        valid: info.children.iter().map(|c| c.id.clone()).collect(),
    })
}

/// A caller mistake, nothing sent.
pub(super) fn invalid(dev: &KasaDevice, reason: impl Into<String>) -> Error {
    Error::InvalidArgument { addr: dev.addr(), reason: reason.into() }
}

/// A feature the device lacks.
pub(super) fn unsupported(dev: &KasaDevice, reason: impl Into<String>) -> Error {
    Error::Unsupported { addr: dev.addr(), reason: reason.into() }
}

/// A malformed reply.
pub(super) fn malformed(dev: &KasaDevice, what: &'static str, detail: impl Into<String>) -> Error {
    Error::Reply {
        addr: dev.addr(),
        error: plugctl_proto::kasa::ResponseError::Malformed { what, detail: detail.into() },
    }
}
