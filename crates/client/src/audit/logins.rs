//! Changing the Hi-Flying logins the audit flags as factory defaults, over the assist
//! protocol (hf-protocol.md §1.1, §3.7): the web login with `AT+WEBU=<user>,<password>` and
//! the assist password with `AT+ASWD=<password>`. These are Hi-Flying module commands; whether
//! Reco's firmware honours them is not documented \[G\], so every value is read back and
//! compared, and a plug that rejects a command says so.
//!
//! Values are checked locally before anything is sent. The web login is written first, the
//! assist password last (it is what opened the session). Errors and results never contain a
//! password.

use std::net::IpAddr;

use plugctl_proto::hf::assist::{AssistReply, AtRequest};

use super::assist::AssistSession;
use crate::{
    error::{Error, Result},
    hf::{HfConfig, HfFailure},
};

/// Longest web user name or password accepted, in bytes (Hi-Flying module limit \[G\]).
pub const MAX_WEB_FIELD: usize = 15;

/// Longest assist password accepted, in bytes (Hi-Flying module limit \[G\]).
pub const MAX_ASSIST_PASSWORD: usize = 20;

/// What to change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewLogins {
    /// The web user and password.
    pub web: Option<(String, String)>,
    /// The new assist password.
    pub assist_password: Option<String>,
}

/// A login value the plug cannot store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// Empty.
    #[error("the {0} is empty")]
    Empty(&'static str),
    /// Too long.
    #[error("the {what} is {len} bytes long; at most {max} fit")]
    TooLong {
        /// Which value.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not printable ASCII, or a comma (the AT argument separator).
    #[error("the {0} may only hold printable ASCII characters other than ',' and space")]
    Characters(&'static str),
    /// Nothing to change.
    #[error("nothing to change: give a web login, a new assist password, or both")]
    Nothing,
}

/// Checks one value: 1..=`max` bytes of printable ASCII without `,` or space.
pub fn check(what: &'static str, value: &str, max: usize) -> std::result::Result<(), LoginError> {
    if value.is_empty() {
        return Err(LoginError::Empty(what));
    }
    if value.len() > max {
        return Err(LoginError::TooLong { what, len: value.len(), max });
    }
    if !value.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
        return Err(LoginError::Characters(what));
    }
    Ok(())
}

/// What [`change_logins`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginsChanged {
    /// The module's answer to the assist password.
    pub module: AssistReply,
    /// The web user now set, if the web login was changed.
    pub web_user: Option<String>,
    /// Whether the assist password was changed.
    pub assist_password_changed: bool,
}

/// Opens an assist session with `current_password` and writes `new` (see the module docs).
///
/// Errors: [`Error::InvalidArgument`] for a value the plug cannot store (nothing sent);
/// [`HfFailure::AssistNoAnswer`] when `current_password` gets no answer;
/// [`HfFailure::Rejected`] when the plug answers `+ERR=<n>`; [`HfFailure::UnexpectedValue`]
/// when a value read back differs; [`Error::Timeout`] when a step goes unanswered.
pub async fn change_logins(
    ip: IpAddr,
    cfg: &HfConfig,
    current_password: &str,
    new: &NewLogins,
) -> Result<LoginsChanged> {
    let addr = std::net::SocketAddr::new(ip, cfg.udp_port);
    let invalid = |e: LoginError| Error::InvalidArgument { addr, reason: e.to_string() };
    if new.web.is_none() && new.assist_password.is_none() {
        return Err(invalid(LoginError::Nothing));
    }
    if let Some((user, password)) = &new.web {
        check("web user", user, MAX_WEB_FIELD).map_err(invalid)?;
        check("web password", password, MAX_WEB_FIELD).map_err(invalid)?;
    }
    if let Some(p) = &new.assist_password {
        check("assist password", p, MAX_ASSIST_PASSWORD).map_err(invalid)?;
    }
    let at = |verb: &str, arg: &str| {
        AtRequest::set(verb, arg).map_err(|e| Error::InvalidArgument { addr, reason: e.to_string() })
    };
    let (s, module) = AssistSession::open(ip, cfg, current_password).await?;
    let mismatch = |command: &str, detail: &str| Error::Hf {
        addr,
        error: HfFailure::UnexpectedValue { command: command.to_string(), detail: detail.to_string() },
    };
    let mut web_user = None;
    if let Some((user, password)) = &new.web {
        s.exchange(&at("WEBU", &format!("{user},{password}"))?, &format!("AT+WEBU={user},****")).await?;
        let read = s.query("WEBU").await?;
        if read != format!("{user},{password}") {
            let what = match read.split_once(',') {
                Some((u, _)) if u == user => "the plug reports another web password",
                _ => "the plug reports another web login",
            };
            return Err(mismatch("AT+WEBU", what));
        }
        web_user = Some(user.clone());
    }
    let mut assist_password_changed = false;
    if let Some(p) = &new.assist_password {
        s.exchange(&at("ASWD", p)?, "AT+ASWD=****").await?;
        if s.query("ASWD").await? != *p {
            return Err(mismatch("AT+ASWD", "the plug reports another assist password"));
        }
        assist_password_changed = true;
    }
    s.quit().await;
    Ok(LoginsChanged { module, web_user, assist_password_changed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked() {
        assert_eq!(check("web user", "owner", 15), Ok(()));
        assert_eq!(check("web user", "", 15), Err(LoginError::Empty("web user")));
        assert!(matches!(
            check("web password", &"x".repeat(16), 15),
            Err(LoginError::TooLong { len: 16, .. })
        ));
        assert_eq!(check("web password", "a,b", 15), Err(LoginError::Characters("web password")));
        assert_eq!(check("web password", "a b", 15), Err(LoginError::Characters("web password")));
        assert_eq!(check("web password", "pässwort", 15), Err(LoginError::Characters("web password")));
    }

    #[tokio::test]
    async fn invalid_values_send_nothing() {
        let cfg = HfConfig::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let e = change_logins(ip, &cfg, "x", &NewLogins::default()).await.unwrap_err();
        assert!(e.to_string().contains("nothing to change"), "{e}");
        let new = NewLogins { web: Some(("owner".into(), "a,b".into())), assist_password: None };
        let e = change_logins(ip, &cfg, "x", &new).await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e}");
        assert!(!e.to_string().contains("a,b"), "{e}");
    }
}
