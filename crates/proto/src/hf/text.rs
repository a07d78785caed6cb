//! Text helpers shared by the Hi-Flying decoders. Everything here works on `&str` with
//! checked slicing only, so no input can make it panic.

use std::borrow::Cow;

/// Longest excerpt of foreign input quoted in an error message.
const PREVIEW_CHARS: usize = 48;

/// Decodes received bytes as text. Invalid UTF-8 becomes U+FFFD, which no numeric or
/// keyword field accepts, so garbage still fails with a typed error further on.
pub(crate) fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// At most [`PREVIEW_CHARS`] characters of `s`, with `…` when cut (error messages quote
/// this through `{:?}`, which escapes control characters).
pub(crate) fn preview(s: &str) -> String {
    let mut chars = s.chars();
    let mut out: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// `s` without `prefix`, compared ignoring ASCII case.
pub(crate) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Whether `s` is a non-empty prefix of (or equal to) `full`, ignoring ASCII case.
pub(crate) fn is_prefix_ci(s: &str, full: &str) -> bool {
    !s.is_empty() && full.get(..s.len()).is_some_and(|head| head.eq_ignore_ascii_case(s))
}

/// Whether `s` is one or more ASCII digits (no sign, no spaces).
pub(crate) fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Strips NUL and ASCII whitespace (space, `\t`, `\r`, `\n`, form feed) at both ends.
pub(crate) fn trim_line(s: &str) -> &str {
    s.trim_matches(|c: char| c == '\0' || c.is_ascii_whitespace())
}

/// Strips the `\r`, `\n` and `\0` that clients and modules leave around a datagram.
pub(crate) fn trim_datagram(s: &str) -> &str {
    s.trim_matches(|c: char| matches!(c, '\r' | '\n' | '\0'))
}

/// Strips spaces and tabs around a comma-separated field.
pub(crate) fn trim_field(s: &str) -> &str {
    s.trim_matches(|c: char| c == ' ' || c == '\t')
}

/// Splits on `\r` and `\n` (so `\r\n`, `\n\r`, `\r` and `\n` all end a line; empty pieces
/// are left for the caller to skip).
pub(crate) fn lines(s: &str) -> impl Iterator<Item = &str> {
    s.split(['\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(strip_prefix_ci("at+yzout", "AT+"), Some("yzout"));
        assert_eq!(strip_prefix_ci("é", "AT"), None);
        assert_eq!(strip_prefix_ci("A", "AT+"), None);
        assert!(is_prefix_ci("+o", "+ok"));
        assert!(is_prefix_ci("+OK", "+ok"));
        assert!(!is_prefix_ci("+okk", "+ok"));
        assert!(!is_prefix_ci("", "+ok"));
        assert!(all_digits("0123"));
        assert!(!all_digits("+1"));
        assert!(!all_digits(""));
        assert_eq!(trim_line("\0\t AT+YZOUT \t\0\r\n"), "AT+YZOUT");
        assert_eq!(preview(&"x".repeat(100)).chars().count(), PREVIEW_CHARS + 1);
        assert_eq!(lines("a\r\nb\rc\nd").filter(|l| !l.is_empty()).count(), 4);
    }
}
