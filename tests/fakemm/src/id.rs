//! Mattermost-style 26-character ids stored inline (`Copy`), plus id generation.

use rand::RngCore;
use serde::{Serialize, Serializer};
use std::fmt;

/// The alphabet `model.NewId()` uses (base32, no padding, lowercase).
pub const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// A 26-byte id. `Id::NONE` (all zero bytes) renders as `""`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id([u8; 26]);

impl Id {
    /// The empty id (`""` in JSON), used for `root_id`, `original_id`, `team_id` of D/G channels.
    pub const NONE: Id = Id([0; 26]);

    /// True for [`Id::NONE`].
    pub fn is_none(&self) -> bool {
        self.0[0] == 0
    }

    /// The id as a string (`""` for NONE).
    pub fn as_str(&self) -> &str {
        if self.is_none() {
            ""
        } else {
            std::str::from_utf8(&self.0).unwrap_or("")
        }
    }

    /// Parses a string that satisfies `model.IsValidId` (26 ASCII letters or digits).
    pub fn parse(s: &str) -> Option<Id> {
        let b = s.as_bytes();
        if b.len() != 26 || !b.iter().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        let mut a = [0u8; 26];
        a.copy_from_slice(b);
        Some(Id(a))
    }

    /// Lookup form of a string: a valid id, or NONE (never matches anything) otherwise.
    pub fn lookup(s: &str) -> Id {
        Id::parse(s).unwrap_or(Id::NONE)
    }

    /// A new random id from `rng` (16 random bytes, base32 encoded like `model.NewId`).
    pub fn generate(rng: &mut impl RngCore) -> Id {
        let mut raw = [0u8; 16];
        rng.fill_bytes(&mut raw);
        let mut out = [0u8; 26];
        let mut acc: u32 = 0;
        let mut bits = 0;
        let mut o = 0;
        for byte in raw {
            acc = (acc << 8) | byte as u32;
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out[o] = ALPHABET[((acc >> bits) & 31) as usize];
                o += 1;
            }
        }
        if bits > 0 {
            out[o] = ALPHABET[((acc << (5 - bits)) & 31) as usize];
        }
        Id(out)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.as_str())
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ids_are_26_chars_of_alphabet() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let id = Id::generate(&mut rng);
            assert_eq!(id.as_str().len(), 26);
            assert!(id.as_str().bytes().all(|c| ALPHABET.contains(&c)));
            assert_eq!(Id::parse(id.as_str()), Some(id));
        }
        assert!(Id::parse("short").is_none());
        assert!(Id::parse("abcdefghijklmnopqrstuvwxy-").is_none());
    }
}
