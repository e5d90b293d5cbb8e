//! Kubernetes `Secret` manifests: the values of a `data:` block are base64 of the secrets, so a
//! regex alone cannot tell a Secret's block from a ConfigMap's. This check decodes them.

use base64::Engine as _;

/// True when `block` (the indented `key: value` lines of a `data:` block) holds at least one
/// value and every value is standard base64 (padded) of printable UTF-8 text. A ConfigMap's plain
/// values (`debug`, `true`, `8080`) are not valid padded base64 of text, so the block is refused.
pub fn secret_data(block: &str) -> bool {
    let mut values = 0usize;
    for line in block.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((_, value)) = line.split_once(':') else { return false };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        if !is_printable_base64(value) {
            return false;
        }
        values += 1;
    }
    values > 0
}

/// Decodes as padded standard base64 to valid UTF-8 without control characters (tab and line
/// breaks allowed: certificates and multi-line files are stored this way too).
fn is_printable_base64(value: &str) -> bool {
    if value.len() < 4 || value.len() % 4 != 0 {
        return false;
    }
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(value) else { return false };
    let Ok(text) = std::str::from_utf8(&bytes) else { return false };
    !text.is_empty() && text.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_blocks_decode_and_config_maps_do_not() {
        assert!(secret_data("  username: YXBwX3VzZXI=\n  password: bjN2M3JHdWVzcy1UaGlzIVBsZWFzZQ==\n"));
        assert!(secret_data("  token: 'c2VjcmV0LXRva2Vu'"));
        assert!(!secret_data("  LOG_LEVEL: debug\n  enabled: true\n"));
        assert!(!secret_data("  port: 8080\n"));
        assert!(!secret_data("  blob: /w==\n"), "binary (0xff) is not text");
        assert!(!secret_data("  a: YWJj\n  b: debug\n"), "one plain value refuses the block");
        assert!(!secret_data(""));
    }
}
