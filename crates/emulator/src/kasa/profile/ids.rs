//! Realistic identifiers for instantiated devices.
//!
//! Dumps scrub ids (zeros, `SCRUBBED_CHILD_DEVICE_ID_n`, masked aliases, MACs with zeroed
//! low octets), but clients send ids back (`context.child_ids`) and tell devices apart by
//! them, so an emulator must put real-looking ones back. The rules, all deterministic in
//! (seed, index, model):
//! - `deviceId` that is empty, all zeros or scrubbed → `80` + 38 uppercase hex (40 chars);
//!   a real one is kept by device 0 and replaced the same way for the others;
//! - `hwId` / `oemId` all zeros → 32 uppercase hex, shared by every device of the same
//!   model in a fleet (they identify hardware and region, not the unit); `fwId` is kept;
//! - a masked or empty alias → `"<MODEL> plug <index+1>"` (strips: `"<MODEL> strip <n>"`),
//!   child aliases → `"Plug 1"` … `"Plug N"`;
//! - child ids → `deviceId` + `00` … `NN` (a real-looking child id is kept when the
//!   `deviceId` was kept too);
//! - MAC: index 0 keeps the template's MAC exactly; index ≥ 1 keeps the OUI (or uses the
//!   TP-Link OUI `50:C7:BF` if it is zero) and sets the low 3 octets to
//!   `template_low + index` (mod 2²⁴), so fleets have unique MACs.

use serde_json::Value;

use super::Profile;

/// A TP-Link OUI used when a template MAC has a zero OUI.
pub const TPLINK_OUI: [u8; 3] = [0x50, 0xC7, 0xBF];

/// The identity of one instantiated device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// 40 uppercase hex.
    pub device_id: String,
    /// 32 uppercase hex (or the template's).
    pub hw_id: String,
    /// 32 uppercase hex (or the template's).
    pub oem_id: String,
    /// `AA:BB:CC:DD:EE:FF`.
    pub mac: String,
    /// The device alias.
    pub alias: String,
    /// What a factory reset restores the alias to.
    pub default_alias: String,
    /// Strip outlet ids (empty for single-outlet devices).
    pub child_ids: Vec<String>,
    /// Strip outlet aliases.
    pub child_aliases: Vec<String>,
}

impl Identity {
    /// Derives the identity of device `index` of a fleet seeded with `seed`.
    pub fn derive(profile: &Profile, index: usize, seed: u64) -> Self {
        let s = profile.sysinfo();
        let get = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("");
        let model = profile.model();
        let unit_key = hash(&[&seed.to_le_bytes(), &(index as u64).to_le_bytes(), model.as_bytes()]);
        let model_key = hash(&[&seed.to_le_bytes(), model.as_bytes(), profile.hw_ver().as_bytes()]);

        let template_id = get("deviceId");
        // A real id is kept by device 0 only, so fleets never share ids.
        let id_kept = index == 0 && !is_scrubbed_id(template_id);
        let device_id = if id_kept {
            template_id.to_string()
        } else {
            format!("80{}", hex_string(38, unit_key ^ 0x0D1D))
        };
        let hw_id = keep_or(get("hwId"), || hex_string(32, model_key ^ 0x4857));
        let oem_id = keep_or(get("oemId"), || hex_string(32, model_key ^ 0x0E3D));
        let mac = fleet_mac(get("mac"), index);

        let children: &[Value] = s.get("children").and_then(Value::as_array).map_or(&[], Vec::as_slice);
        let strip = !children.is_empty();
        let default_alias = default_alias(model, index, strip);
        let alias =
            if is_masked_alias(get("alias")) { default_alias.clone() } else { get("alias").to_string() };
        let mut child_ids = Vec::with_capacity(children.len());
        let mut child_aliases = Vec::with_capacity(children.len());
        for (i, c) in children.iter().enumerate() {
            let id = c.get("id").and_then(Value::as_str).unwrap_or("");
            child_ids.push(if id_kept && !is_scrubbed_id(id) {
                id.to_string()
            } else {
                format!("{device_id}{i:02}")
            });
            let a = c.get("alias").and_then(Value::as_str).unwrap_or("");
            child_aliases.push(if is_masked_alias(a) { format!("Plug {}", i + 1) } else { a.to_string() });
        }
        Self { device_id, hw_id, oem_id, mac, alias, default_alias, child_ids, child_aliases }
    }
}

fn keep_or(v: &str, make: impl FnOnce() -> String) -> String {
    if is_scrubbed_id(v) {
        make()
    } else {
        v.to_string()
    }
}

/// True for ids a dump scrubbed: empty, all zeros, or containing `SCRUBBED`/`MASKED`.
pub fn is_scrubbed_id(id: &str) -> bool {
    id.is_empty() || id.bytes().all(|b| b == b'0') || id.contains("SCRUBBED") || id.contains("MASKED")
}

/// True for aliases a dump masked (or left empty).
pub fn is_masked_alias(alias: &str) -> bool {
    alias.trim().is_empty() || alias.contains("MASKED")
}

/// The default alias of device `index`: `HS110 plug 3`, `HS300 strip 1`.
pub fn default_alias(model: &str, index: usize, strip: bool) -> String {
    let base = model.split('(').next().unwrap_or(model).trim();
    let base = if base.is_empty() { "Kasa" } else { base };
    let kind = if strip { "strip" } else { "plug" };
    format!("{base} {kind} {}", index.saturating_add(1))
}

/// The MAC of device `index` (see the module docs). Accepts `:` or `-` separators.
pub fn fleet_mac(template: &str, index: usize) -> String {
    if index == 0 {
        return template.to_string();
    }
    let octets = parse_mac(template).unwrap_or([0; 6]);
    let mut oui = [octets[0], octets[1], octets[2]];
    if oui == [0, 0, 0] {
        oui = TPLINK_OUI;
    }
    let low = u32::from_be_bytes([0, octets[3], octets[4], octets[5]]);
    let low = low.wrapping_add(index as u32) & 0x00FF_FFFF;
    let [_, a, b, c] = low.to_be_bytes();
    format_mac([oui[0], oui[1], oui[2], a, b, c])
}

/// Parses `AA:BB:CC:DD:EE:FF`, `aa-bb-cc-dd-ee-ff` or `AABBCCDDEEFF`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let hex: String = s.chars().filter(|c| *c != ':' && *c != '-').collect();
    if hex.len() != 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 6];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Formats a MAC the way plugs report it: uppercase with colons.
pub fn format_mac(m: [u8; 6]) -> String {
    format!("{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}", m[0], m[1], m[2], m[3], m[4], m[5])
}

/// `len` uppercase hex digits derived from `key` (deterministic).
pub fn hex_string(len: usize, key: u64) -> String {
    let mut state = key;
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        out.push_str(&format!("{:016X}", splitmix64(&mut state)));
    }
    out.truncate(len);
    out
}

/// FNV-1a over the parts, finished with a splitmix round.
pub(crate) fn hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut s = h;
    splitmix64(&mut s)
}

/// One step of splitmix64.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kasa::profile::builtin;

    #[test]
    fn mac_rule() {
        assert_eq!(fleet_mac("00:00:00:00:00:00", 0), "00:00:00:00:00:00");
        assert_eq!(fleet_mac("00:00:00:00:00:00", 1), "50:C7:BF:00:00:01");
        assert_eq!(fleet_mac("B0:95:75:00:00:00", 258), "B0:95:75:00:01:02");
        assert_eq!(fleet_mac("B0:95:75:FF:FF:FF", 1), "B0:95:75:00:00:00");
        assert_eq!(fleet_mac("garbage", 0), "garbage");
        assert_eq!(fleet_mac("garbage", 3), "50:C7:BF:00:00:03");
        assert_eq!(parse_mac("50-c7-bf-01-02-03"), Some([0x50, 0xC7, 0xBF, 1, 2, 3]));
        assert_eq!(parse_mac("50:C7:BF:01:02"), None);
        assert_eq!(parse_mac("50:C7:BF:01:02:0G"), None);
    }

    #[test]
    fn ids_are_deterministic_and_realistic() {
        let p = builtin("hs300").unwrap();
        let a = Identity::derive(&p, 3, 7);
        assert_eq!(a, Identity::derive(&p, 3, 7));
        assert_ne!(a.device_id, Identity::derive(&p, 4, 7).device_id);
        assert_ne!(a.device_id, Identity::derive(&p, 3, 8).device_id);
        assert_eq!(a.device_id.len(), 40);
        assert!(a.device_id.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
        assert_eq!(a.hw_id.len(), 32);
        assert_eq!(a.hw_id, Identity::derive(&p, 9, 7).hw_id, "hwId is per model, not per unit");
        assert_eq!(a.child_ids.len(), 6);
        assert_eq!(a.child_ids[5], format!("{}05", a.device_id));
        assert_eq!(a.child_aliases[0], "Plug 1");
        assert_eq!(a.alias, "HS300 strip 4");
        assert!(is_scrubbed_id("SCRUBBED_CHILD_DEVICE_ID_1"));
        assert!(is_scrubbed_id("000000000000000000000000000000000000000"));
        assert!(!is_scrubbed_id("8006588E50AD389303FF31AB6302907A17442F16"));
        assert_eq!(hex_string(5, 1).len(), 5);
    }
}
