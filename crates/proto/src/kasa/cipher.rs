//! The XOR autokey cipher (kasa-protocol.md §2).
//!
//! `c[i] = p[i] ^ c[i-1]` with `c[-1] = 0xAB`. The key restarts for every TCP frame and every
//! UDP datagram, and works on UTF-8 bytes, never on characters.

/// The initial key of every message.
pub const INITIAL_KEY: u8 = 0xAB;

/// Encrypts `buf` in place.
pub fn encrypt_in_place(buf: &mut [u8]) {
    let mut key = INITIAL_KEY;
    for b in buf.iter_mut() {
        *b ^= key;
        key = *b;
    }
}

/// Decrypts `buf` in place.
pub fn decrypt_in_place(buf: &mut [u8]) {
    let mut key = INITIAL_KEY;
    for b in buf.iter_mut() {
        let c = *b;
        *b ^= key;
        key = c;
    }
}

/// Returns the ciphertext of `plain`.
pub fn encrypt(plain: &[u8]) -> Vec<u8> {
    let mut out = plain.to_vec();
    encrypt_in_place(&mut out);
    out
}

/// Returns the plaintext of `cipher`.
pub fn decrypt(cipher: &[u8]) -> Vec<u8> {
    let mut out = cipher.to_vec();
    decrypt_in_place(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kasa-protocol.md §2.2: the first eight steps of the worked example.
    #[test]
    fn worked_example_first_steps() {
        let c = encrypt(br#"{"system"#);
        assert_eq!(c, [0xd0, 0xf2, 0x81, 0xf8, 0x8b, 0xff, 0x9a, 0xf7]);
    }

    #[test]
    fn unicode_is_encrypted_as_bytes() {
        let plain = "Mock😽 HS110 – Küche".as_bytes();
        let c = encrypt(plain);
        assert_eq!(c.len(), plain.len());
        assert_eq!(decrypt(&c), plain);
    }

    #[test]
    fn empty_is_empty() {
        assert!(encrypt(b"").is_empty());
        assert!(decrypt(b"").is_empty());
    }
}
