//! Byte counts for people: `1.5 MiB` in summaries and progress, `1K` and `2M` on the command line.

/// A byte count in binary units with one decimal (`512 B`, `1.5 KiB`, `3.0 GiB`).
pub fn human_bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// Parses a byte count from the command line: a number, optionally with `K` (KiB) or `M` (MiB).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1024),
        Some((i, 'm' | 'M')) => (&t[..i], 1024 * 1024),
        _ => (t, 1),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of bytes (e.g. 1024, 1K, 2M)"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("`{s}` must be a number of bytes >= 0"));
    }
    Ok((v * mult as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_in_binary_units() {
        for (n, s) in [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (5 << 20, "5.0 MiB"),
            (3 << 30, "3.0 GiB"),
            (2 << 40, "2.0 TiB"),
            (2048 << 40, "2048.0 TiB"),
        ] {
            assert_eq!(human_bytes(n), s, "{n}");
        }
    }

    #[test]
    fn byte_counts() {
        for (s, v) in [
            ("0", 0),
            ("1500", 1500),
            ("1K", 1024),
            ("1.5k", 1536),
            ("2M", 2 << 20),
        ] {
            assert_eq!(parse_bytes(s), Ok(v), "{s}");
        }
        for s in ["", "K", "-1", "1G", "x"] {
            assert!(parse_bytes(s).is_err(), "{s}");
        }
    }
}
