//! TOTP codes for MFA logins (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) from the base32
//! secret Mattermost stores (`mfa_secret`). Public so that tests compute the code the server
//! expects.
//!
//! The real server (`server/platform/shared/mfa`, dgoogauth with `WindowSize: 3`) trims the
//! code, rejects anything but 6 digits as malformed, and accepts the codes of the previous, the
//! current and the next step.

use ring::hmac;

/// The 6-digit code of `secret_b32` at `unix_secs`.
///
/// # Panics
/// When `secret_b32` is not base32.
pub fn code_at(secret_b32: &str, unix_secs: u64) -> String {
    let key = base32_decode(secret_b32).expect("an MFA secret is base32");
    hotp(&key, unix_secs / 30)
}

/// The code of `secret_b32` now.
pub fn code_now(secret_b32: &str) -> String {
    code_at(secret_b32, now())
}

/// How the server judges a login's `token` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Ok,
    /// Not 6 digits (empty included): `mfa.validate_token.authenticate.app_error`.
    Malformed,
    /// 6 digits, but not the code of the previous, current or next step:
    /// `api.user.check_user_mfa.bad_code.app_error`.
    Wrong,
}

/// Checks `code` against `secret_b32` at `unix_secs`.
pub fn check(secret_b32: &str, code: &str, unix_secs: u64) -> Check {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Check::Malformed;
    }
    let Some(key) = base32_decode(secret_b32) else {
        return Check::Malformed;
    };
    let step = unix_secs / 30;
    let ok = [step.saturating_sub(1), step, step + 1]
        .iter()
        .any(|s| hotp(&key, *s) == code);
    if ok {
        Check::Ok
    } else {
        Check::Wrong
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 4226 HOTP, 6 digits.
fn hotp(key: &[u8], counter: u64) -> String {
    let k = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let h = hmac::sign(&k, &counter.to_be_bytes());
    let h = h.as_ref();
    let off = (h[19] & 0x0f) as usize;
    let bin = (u32::from(h[off]) & 0x7f) << 24
        | u32::from(h[off + 1]) << 16
        | u32::from(h[off + 2]) << 8
        | u32::from(h[off + 3]);
    format!("{:06}", bin % 1_000_000)
}

/// RFC 4648 base32 (upper or lower case, padding optional).
fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u64, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buf = (buf << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B (SHA1 key "12345678901234567890"), last 6 digits.
    #[test]
    fn rfc6238_vectors() {
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(code_at(secret, 59), "287082");
        assert_eq!(code_at(secret, 1_111_111_109), "081804");
        assert_eq!(code_at(secret, 1_234_567_890), "005924");
        assert_eq!(code_at(secret, 2_000_000_000), "279037");
    }

    #[test]
    fn window_and_malformed_codes() {
        let secret = "JBSWY3DPEHPK3PXP";
        let t = 1_700_000_000;
        assert_eq!(check(secret, &code_at(secret, t), t), Check::Ok);
        assert_eq!(check(secret, &code_at(secret, t - 30), t), Check::Ok);
        assert_eq!(check(secret, &code_at(secret, t + 30), t), Check::Ok);
        assert_eq!(check(secret, &code_at(secret, t - 90), t), Check::Wrong);
        assert_eq!(check(secret, "", t), Check::Malformed);
        assert_eq!(check(secret, "12345", t), Check::Malformed);
        assert_eq!(check(secret, "12a456", t), Check::Malformed);
    }
}
