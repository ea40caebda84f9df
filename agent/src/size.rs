//! Byte sizes as operators write them: `500000`, `64Ki`, `128Mi`, `1Gi`.

/// Parses a byte count, bare or with a binary suffix (`Ki`, `Mi`, `Gi`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a size like 500000, 64Ki, 128Mi or 1Gi"))?;
    let scale: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return Err(format!("{text:?}: unknown unit {unit:?}; use Ki, Mi or Gi (or a number of bytes)")),
    };
    n.checked_mul(scale).ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500000"), Ok(500_000));
        assert_eq!(parse_size("64Ki"), Ok(65_536));
        assert_eq!(parse_size("128Mi"), Ok(134_217_728));
        assert_eq!(parse_size("1Gi"), Ok(1_073_741_824));
        assert!(parse_size("1GB").is_err() && parse_size("Mi").is_err() && parse_size("99999999999Gi").is_err());
    }
}
