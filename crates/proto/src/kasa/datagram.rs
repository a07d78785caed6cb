//! UDP framing (kasa-protocol.md §4): one datagram is the whole ciphertext, with no length
//! prefix.

use super::cipher;

/// Largest datagram accepted or produced (an IPv4 UDP payload cannot exceed this).
pub const MAX_DATAGRAM: usize = 65_507;

/// Encodes a JSON payload as a UDP datagram.
pub fn encode(json: &[u8]) -> Vec<u8> {
    cipher::encrypt(json)
}

/// Decodes a UDP datagram into its plaintext bytes (not necessarily valid JSON).
pub fn decode(datagram: &[u8]) -> Vec<u8> {
    cipher::decrypt(datagram)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kasa-protocol.md §2.2: the discovery datagram python-kasa sends.
    #[test]
    fn discovery_datagram_vector() {
        let hex = "d0f281f88bff9af7d5ef94b6d1b4c09fec95e68fe187e8caf08bf68bf6";
        let got: String =
            encode(crate::kasa::DISCOVERY_QUERY.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, hex);
        assert_eq!(got.len() / 2, 29);
    }
}
