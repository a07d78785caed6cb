//! Hex text as people paste it (`00 00 00 1d d0 f2`, `00:00:00:1d`, `0x0000001dd0f2`,
//! Wireshark's "copy as hex stream") to bytes, and bytes to lower-case hex.

/// Why a hex text could not be turned into bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// No hex digits at all.
    #[error("no hex digits given")]
    Empty,
    /// A character that is neither a hex digit nor an accepted separator.
    #[error("{ch:?} at position {position} is not a hex digit (accepted separators: spaces, ':', '-', ',')")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its position in the text, counting characters from 1.
        position: usize,
    },
    /// An odd number of hex digits: the last byte is incomplete.
    #[error("odd number of hex digits ({digits}): every byte needs two")]
    OddLength {
        /// How many digits were given.
        digits: usize,
    },
}

/// Parses hex bytes. Whitespace, `:`, `-` and `,` separate bytes or groups and are ignored;
/// a `0x`/`0X` prefix is accepted at the start of the text and of every group.
pub fn parse(text: &str) -> Result<Vec<u8>, HexError> {
    let mut digits: Vec<u8> = Vec::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut group_start = true;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() || matches!(c, ':' | '-' | ',') {
            group_start = true;
            i += 1;
            continue;
        }
        if group_start && c == '0' && matches!(chars.get(i + 1), Some('x' | 'X')) {
            group_start = false;
            i += 2;
            continue;
        }
        group_start = false;
        let Some(d) = c.to_digit(16) else {
            return Err(HexError::InvalidChar { ch: c, position: i + 1 });
        };
        digits.push(d as u8);
        i += 1;
    }
    if digits.is_empty() {
        return Err(HexError::Empty);
    }
    if !digits.len().is_multiple_of(2) {
        return Err(HexError::OddLength { digits: digits.len() });
    }
    Ok(digits.chunks_exact(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// Lower-case hex of `bytes`, no separators.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_spellings() {
        let want = vec![0x00, 0x00, 0x00, 0x1d, 0xd0, 0xf2];
        for s in [
            "0000001dd0f2",
            "00 00 00 1d d0 f2",
            "00:00:00:1d:d0:f2",
            "0x0000001dD0F2",
            "0x00 0x00 0x00 0x1d 0xd0 0xf2",
            "  00-00-00-1d\n\td0,f2  ",
            "0000 001D D0F2",
        ] {
            assert_eq!(parse(s), Ok(want.clone()), "{s}");
        }
    }

    #[test]
    fn rejects_garbage_with_a_position() {
        assert_eq!(parse(""), Err(HexError::Empty));
        assert_eq!(parse(" : 0x "), Err(HexError::Empty));
        assert_eq!(parse("abc"), Err(HexError::OddLength { digits: 3 }));
        assert_eq!(parse("00 zz"), Err(HexError::InvalidChar { ch: 'z', position: 4 }));
        assert_eq!(parse("00x1"), Err(HexError::InvalidChar { ch: 'x', position: 3 }));
        assert_eq!(parse("é"), Err(HexError::InvalidChar { ch: 'é', position: 1 }));
        assert!(parse("00 zz").unwrap_err().to_string().contains("position 4"));
    }

    #[test]
    fn encode_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(parse(&encode(&bytes)), Ok(bytes));
        assert_eq!(encode(&[0xab, 0x01]), "ab01");
    }
}
