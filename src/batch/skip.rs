//! Why a file or record was not scanned. Skips are data, not errors: each one becomes a report
//! line and a summary entry, and the run goes on.

use std::fmt;

use super::extract::ExtractError;

/// Why a document was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SkipReason {
    /// The file could not be opened or read (permissions, broken symlink, I/O error).
    Unreadable(String),
    /// A NUL byte in the first 8 KiB: not text.
    Binary { at: usize },
    /// Not valid UTF-8.
    NotUtf8 { at: usize },
    /// Larger than `--max-file-size`.
    TooLarge { size: u64, max: u64 },
    /// A folder symlink, a FIFO, a socket, a device.
    NotAFile(&'static str),
    /// The text could not be extracted (malformed JSON or CSV, missing field).
    Extract(ExtractError),
    /// The walk itself failed here (an unreadable folder, a bad ignore file).
    Walk(String),
    /// The engine failed on a chunk (e.g. the classifier stopped).
    ScanFailed(String),
}

impl SkipReason {
    /// A stable code for the report and the summary's counts.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::Unreadable(_) => "unreadable",
            SkipReason::Binary { .. } => "binary",
            SkipReason::NotUtf8 { .. } => "not_utf8",
            SkipReason::TooLarge { .. } => "too_large",
            SkipReason::NotAFile(_) => "not_a_file",
            SkipReason::Extract(ExtractError::NoField(_) | ExtractError::NoColumn(_) | ExtractError::NoHeaderColumn(_)) => "no_text",
            SkipReason::Extract(_) => "malformed",
            SkipReason::Walk(_) => "walk_error",
            SkipReason::ScanFailed(_) => "scan_failed",
        }
    }

    /// A skipped record whose bytes may still be copied into the masked mirror unchanged:
    /// only one whose selected field is absent (there was no text to hide). Anything that
    /// could not be read or parsed is left out of the mirror, since it was never scanned.
    pub fn keeps_record_in_mirror(&self) -> bool {
        self.code() == "no_text"
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Unreadable(e) => write!(f, "cannot read: {e}"),
            SkipReason::Binary { at } => write!(f, "binary (NUL byte at offset {at})"),
            SkipReason::NotUtf8 { at } => write!(f, "not valid UTF-8 (first bad byte at offset {at})"),
            SkipReason::TooLarge { size, max } => write!(f, "{size} bytes is over the {max}-byte limit (--max-file-size)"),
            SkipReason::NotAFile(what) => f.write_str(what),
            SkipReason::Extract(e) => write!(f, "{e}"),
            SkipReason::Walk(e) => write!(f, "{e}"),
            SkipReason::ScanFailed(e) => write!(f, "scan failed: {e}"),
        }
    }
}

/// Bytes looked at for a NUL to call a file binary (as git and ripgrep do).
pub(crate) const BINARY_SNIFF: usize = 8 << 10;

/// Check that `bytes` are text: no NUL in the first [`BINARY_SNIFF`] bytes, valid UTF-8.
pub(crate) fn as_text(bytes: &[u8]) -> Result<&str, SkipReason> {
    let head = &bytes[..bytes.len().min(BINARY_SNIFF)];
    if let Some(at) = head.iter().position(|&b| b == 0) {
        return Err(SkipReason::Binary { at });
    }
    std::str::from_utf8(bytes).map_err(|e| SkipReason::NotUtf8 { at: e.valid_up_to() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_checks() {
        assert_eq!(as_text(b"hello"), Ok("hello"));
        assert_eq!(as_text(b"ab\0cd"), Err(SkipReason::Binary { at: 2 }));
        assert_eq!(as_text(b"ab\xffcd"), Err(SkipReason::NotUtf8 { at: 2 }));
    }
}
