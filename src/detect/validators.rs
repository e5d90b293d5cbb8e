//! Validators: pure checks on a matched text that keep or drop a match.

use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine as _;

/// A check applied to a regex match. The set is closed by the pack format.
#[derive(Debug, Clone, PartialEq)]
pub enum Validator {
    /// Payment card check digit.
    Luhn,
    /// IBAN: registered country length and mod-97 = 1.
    Iban,
    /// US SSN area / group / serial rules.
    Ssn,
    /// Parses as an IPv4 address.
    Ipv4,
    /// Parses as an IPv6 address.
    Ipv6,
    /// First segment is a base64url JSON header with `alg`.
    Jwt,
    /// Shannon entropy of the text, in bits per character, at least this much.
    Entropy(f64),
    /// 7 to 15 digits (ITU E.164), not one repeated digit.
    Phone,
    /// `+`, an assigned ITU-T E.164 country code, 8 to 15 digits in all, not one repeated digit.
    E164,
    /// A Kubernetes Secret's `data:` block: every value is base64 of printable text.
    K8sSecretData,
}

impl Validator {
    /// Parse the pack syntax: a name, or `{ entropy = N }`.
    pub fn from_toml(value: &toml::Value) -> Result<Validator, String> {
        const EXPECTED: &str = "expected \"luhn\", \"iban\", \"ssn\", \"ipv4\", \"ipv6\", \"jwt\", \"phone\", \"e164\" or { entropy = N }";
        match value {
            toml::Value::String(name) => match name.as_str() {
                "luhn" => Ok(Validator::Luhn),
                "iban" => Ok(Validator::Iban),
                "ssn" => Ok(Validator::Ssn),
                "ipv4" => Ok(Validator::Ipv4),
                "ipv6" => Ok(Validator::Ipv6),
                "jwt" => Ok(Validator::Jwt),
                "phone" => Ok(Validator::Phone),
                "e164" => Ok(Validator::E164),
                "k8s_secret_data" => Ok(Validator::K8sSecretData),
                other => Err(format!("unknown validator {other:?}: {EXPECTED}")),
            },
            toml::Value::Table(t) if t.len() == 1 => {
                let bits = t.get("entropy").and_then(|v| v.as_float().or(v.as_integer().map(|i| i as f64)));
                match bits {
                    Some(b) if (0.0..=8.0).contains(&b) => Ok(Validator::Entropy(b)),
                    Some(b) => Err(format!("entropy threshold {b} is out of range 0..8 bits per character")),
                    None => Err(format!("invalid validator table: {EXPECTED}")),
                }
            }
            _ => Err(format!("invalid validator: {EXPECTED}")),
        }
    }

    /// The name shown in reports and `explain`.
    pub fn name(&self) -> String {
        match self {
            Validator::Luhn => "luhn".into(),
            Validator::Iban => "iban".into(),
            Validator::Ssn => "ssn".into(),
            Validator::Ipv4 => "ipv4".into(),
            Validator::Ipv6 => "ipv6".into(),
            Validator::Jwt => "jwt".into(),
            Validator::Phone => "phone".into(),
            Validator::E164 => "e164".into(),
            Validator::K8sSecretData => "k8s_secret_data".into(),
            Validator::Entropy(b) => format!("entropy>={b}"),
        }
    }

    /// True for validators that prove a value is one (a checksum or a registry: Luhn, mod-97,
    /// SSN ranges, an assigned country code) rather than only bound its shape.
    pub fn proves_value(&self) -> bool {
        matches!(self, Validator::Luhn | Validator::Iban | Validator::Ssn | Validator::E164)
    }

    /// True when `text` passes.
    pub fn check(&self, text: &str) -> bool {
        match self {
            Validator::Luhn => luhn(text),
            Validator::Iban => iban(text),
            Validator::Ssn => ssn(text),
            Validator::Ipv4 => text.parse::<Ipv4Addr>().is_ok(),
            Validator::Ipv6 => text.parse::<Ipv6Addr>().is_ok(),
            Validator::Jwt => jwt(text),
            Validator::Phone => phone(text),
            Validator::E164 => e164(text),
            Validator::K8sSecretData => super::k8s_secret::secret_data(text),
            Validator::Entropy(min) => shannon_entropy(text) >= *min,
        }
    }
}

/// Luhn check over the digits of `text` (separators ignored); 12 to 19 digits.
pub fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(12..=19).contains(&digits.len()) || digits.iter().all(|&d| d == digits[0]) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// IBAN lengths by country (SWIFT registry).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HN", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
];

/// IBAN: known country, its length, and mod-97 = 1 (spaces ignored).
pub fn iban(text: &str) -> bool {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b'-').collect();
    if compact.len() < 15 || !compact.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let country = std::str::from_utf8(&compact[..2]).unwrap_or("").to_ascii_uppercase();
    match IBAN_LENGTHS.iter().find(|(c, _)| *c == country) {
        Some((_, len)) if *len == compact.len() => {}
        _ => return false,
    }
    let rotated = compact[4..].iter().chain(&compact[..4]);
    let mut rem: u32 = 0;
    for b in rotated {
        let b = b.to_ascii_uppercase();
        let value = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if value >= 10 { (rem * 100 + value) % 97 } else { (rem * 10 + value) % 97 };
    }
    rem == 1
}

/// US SSN: 9 digits; area not 000, 666 or 9xx; group not 00; serial not 0000; not a famous
/// advertising number.
pub fn ssn(text: &str) -> bool {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 9 {
        return false;
    }
    let (area, group, serial) = (&digits[0..3], &digits[3..5], &digits[5..9]);
    let all_same = digits.bytes().all(|b| b == digits.as_bytes()[0]);
    let invalid = area == "000" || area == "666" || area.starts_with('9') || group == "00" || serial == "0000";
    let famous = matches!(digits.as_str(), "078051120" | "219099999" | "123456789");
    !(invalid || all_same || famous)
}

/// Phone number: 7 to 15 digits (E.164 maximum), not all the same digit, and not a date
/// (`1978-04-13 12` is a timestamp).
pub fn phone(text: &str) -> bool {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_digit).collect();
    (7..=15).contains(&digits.len()) && digits.iter().any(|&d| d != digits[0]) && !starts_with_date(text)
}

/// An international number: `+`, an assigned country code, 8 to 15 digits in all (the E.164
/// maximum), not one digit repeated.
pub fn e164(text: &str) -> bool {
    let Some(rest) = text.trim_start().strip_prefix('+') else { return false };
    let digits: Vec<u8> = rest.bytes().filter(u8::is_ascii_digit).map(|d| d - b'0').collect();
    if !(8..=15).contains(&digits.len()) || digits.iter().all(|&d| d == digits[0]) {
        return false;
    }
    let code = |n: usize| digits[..n].iter().fold(0u16, |acc, &d| acc * 10 + u16::from(d));
    (1..=3).any(|n| is_country_code(code(n), n))
}

/// ITU-T E.164 assigned country codes (Recommendation E.164 Annex, 2024 list), by length.
fn is_country_code(code: u16, len: usize) -> bool {
    match len {
        1 => matches!(code, 1 | 7),
        2 => matches!(
            code,
            20 | 27 | 30..=34 | 36 | 39 | 40 | 41 | 43..=49 | 51..=58 | 60..=66 | 81 | 82 | 84 | 86 | 90..=95 | 98
        ),
        3 => matches!(
            code,
            211..=213 | 216 | 218 | 220..=258 | 260..=269 | 290 | 291 | 297..=299 | 350..=359 | 370..=378 | 380..=383
                | 385..=387 | 389 | 420 | 421 | 423 | 500..=509 | 590..=599 | 670 | 672..=683 | 685..=692 | 800 | 808
                | 850 | 852 | 853 | 855 | 856 | 870 | 878 | 880..=883 | 886 | 888 | 960..=968 | 970..=977 | 979
                | 992..=996 | 998
        ),
        _ => false,
    }
}

/// `YYYY-MM-DD` (or `/`, `.`, space) with a plausible year and month.
fn starts_with_date(text: &str) -> bool {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| {
        b.get(r.clone()).filter(|s| s.iter().all(u8::is_ascii_digit)).map(|s| s.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let sep = |i: usize| b.get(i).is_some_and(|c| matches!(c, b'-' | b'/' | b'.' | b' '));
    matches!((num(0..4), num(5..7), num(8..10)), (Some(1900..=2099), Some(1..=12), Some(1..=31))) && sep(4) && sep(7)
}

/// JWT: header segment decodes (base64url) to JSON text with an `alg` field.
pub fn jwt(text: &str) -> bool {
    let Some(header) = text.split('.').next() else { return false };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|v| v.get("alg").is_some())
}

/// Shannon entropy in bits per character.
pub fn shannon_entropy(text: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut total = 0usize;
    for c in text.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    counts
        .values()
        .map(|&n| {
            let p = n as f64 / total as f64;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_table() {
        for valid in ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117", "3530111333300000"] {
            assert!(luhn(valid), "{valid}");
        }
        for invalid in ["4111 1111 1111 1112", "1234567890123", "0000000000000000", "12345"] {
            assert!(!luhn(invalid), "{invalid}");
        }
    }

    #[test]
    fn iban_table() {
        for valid in ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300"] {
            assert!(iban(valid), "{valid}");
        }
        for invalid in ["GB82 WEST 1234 5698 7654 33", "DE8937040044053201300", "XX89370400440532013000", "GB82-WEST"] {
            assert!(!iban(invalid), "{invalid}");
        }
    }

    #[test]
    fn ssn_table() {
        for valid in ["123-45-6788", "536-22-1234", "001 01 0001"] {
            assert!(ssn(valid), "{valid}");
        }
        assert!(phone("07700 063 966") && phone("(415) 555-0134"));
        assert!(phone("555 5556"));
        assert!(!phone("1978-04-13 12") && !phone("555 5555") && !phone("12 34"));
        for invalid in ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000", "078-05-1120", "111-11-1111"] {
            assert!(!ssn(invalid), "{invalid}");
        }
    }

    #[test]
    fn jwt_and_entropy() {
        assert!(jwt("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"));
        assert!(!jwt("eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.sig"));
        assert!(shannon_entropy("aaaaaaaa") < 0.1);
        assert!(shannon_entropy("q8Zr2LmX9vTbK4wP") > 3.5);
    }

    #[test]
    fn validator_syntax() {
        assert_eq!(Validator::from_toml(&toml::Value::String("luhn".into())), Ok(Validator::Luhn));
        let t: toml::Value = toml::from_str("v = { entropy = 3.5 }").unwrap();
        assert_eq!(Validator::from_toml(&t["v"]), Ok(Validator::Entropy(3.5)));
        assert!(Validator::from_toml(&toml::Value::String("crc".into())).is_err());
        assert_eq!(Validator::from_toml(&toml::Value::String("e164".into())), Ok(Validator::E164));
    }

    #[test]
    fn e164_table() {
        for ok in ["+46 70 123 45 67", "+44 20 7946 0958", "+4915112345678", "+33 6 12 34 56 78", "+7 912 345 67 89", "+353 1 234 5678"] {
            assert!(e164(ok), "{ok}");
        }
        // No plus, unassigned codes (+28, +42x outside 420/421/423, +80x), too short or long, one digit.
        for bad in
            ["46 70 123 45 67", "+28 1234 5678", "+424 1234 5678", "+801 234 5678", "+46 70 12", "+46 1234567890123456", "+22 2222 2222"]
        {
            assert!(!e164(bad), "{bad}");
        }
    }
}
