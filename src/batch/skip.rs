//! Why a file or record was not scanned. Skips are data, not errors: each one becomes a report
//! line and a summary entry, and the run goes on.

use std::fmt;

use super::extract::ExtractError;

/// Why a document was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SkipReason {
    /// The file could not be opened or read (permissions, broken symlink, I/O error).
    Unreadable(String),
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
    /// Matched a `.gitignore`, `.ignore` or git exclude rule (a folder is reported once, not
    /// file by file); `--no-ignore` scans it.
    Ignored { folder: bool },
}

impl SkipReason {
    /// A stable code for the report and the summary's counts.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::Unreadable(_) => "unreadable",
            SkipReason::TooLarge { .. } => "too_large",
            SkipReason::NotAFile(_) => "not_a_file",
            SkipReason::Extract(ExtractError::NoField(_) | ExtractError::NoColumn(_) | ExtractError::NoHeaderColumn(_)) => "no_text",
            SkipReason::Extract(_) => "malformed",
            SkipReason::Walk(_) => "walk_error",
            SkipReason::ScanFailed(_) => "scan_failed",
            SkipReason::Ignored { .. } => "ignored",
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
            SkipReason::TooLarge { size, max } => write!(f, "{size} bytes is over the {max}-byte limit (--max-file-size)"),
            SkipReason::NotAFile(what) => f.write_str(what),
            SkipReason::Extract(e) => write!(f, "{e}"),
            SkipReason::Walk(e) => write!(f, "{e}"),
            SkipReason::ScanFailed(e) => write!(f, "scan failed: {e}"),
            SkipReason::Ignored { folder: true } => {
                f.write_str("folder matched an ignore rule (.gitignore, .ignore or git exclude); --no-ignore scans it")
            }
            SkipReason::Ignored { folder: false } => {
                f.write_str("matched an ignore rule (.gitignore, .ignore or git exclude); --no-ignore scans it")
            }
        }
    }
}

/// Bytes looked at for a NUL to call a file binary (as git and ripgrep do).
pub(crate) const BINARY_SNIFF: usize = 8 << 10;

/// Why a document was scanned as something other than clean text. Such a document is scanned
/// anyway (a security scanner fails closed: one NUL or one bad byte used to skip a whole file,
/// silently) and its report line says so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Lossy {
    /// `binary` (a NUL byte in the first 8 KiB) or `not_utf8`.
    pub code: &'static str,
    pub reason: String,
}

/// The text to scan from `bytes`: the bytes themselves when they are UTF-8, else a copy with
/// every byte of each invalid sequence replaced by `?` (one byte for one byte, so offsets,
/// findings and masked copies still line up with the file). Linear in the length.
pub(crate) fn lossy_text(bytes: &[u8]) -> (std::borrow::Cow<'_, str>, Option<Lossy>) {
    let nul = bytes[..bytes.len().min(BINARY_SNIFF)].iter().position(|&b| b == 0);
    let binary = nul.map(|at| Lossy { code: "binary", reason: format!("NUL byte at offset {at}; scanned as text") });
    let first_bad = match std::str::from_utf8(bytes) {
        Ok(text) => return (std::borrow::Cow::Borrowed(text), binary),
        Err(e) => e.valid_up_to(),
    };
    let mut fixed = bytes.to_vec();
    let mut pos = first_bad;
    let mut replaced = 0usize;
    loop {
        match std::str::from_utf8(&fixed[pos..]) {
            Ok(_) => break,
            Err(e) => {
                let at = pos + e.valid_up_to();
                let len = e.error_len().unwrap_or(fixed.len() - at);
                fixed[at..at + len].fill(b'?');
                replaced += len;
                pos = at + len;
            }
        }
    }
    let text = String::from_utf8(fixed).unwrap_or_default();
    let lossy = binary.unwrap_or(Lossy {
        code: "not_utf8",
        reason: format!("not valid UTF-8 (first bad byte at offset {first_bad}); {replaced} invalid byte(s) read as '?'"),
    });
    (std::borrow::Cow::Owned(text), Some(lossy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossy_text_keeps_offsets() {
        let (t, l) = lossy_text(b"hello");
        assert_eq!((t.as_ref(), l), ("hello", None));
        let (t, l) = lossy_text(b"key AKIA\xff\xfe x \xe2\x82 end\xc3");
        assert_eq!(t.as_ref(), "key AKIA?? x ?? end?");
        assert_eq!(t.len(), b"key AKIA\xff\xfe x \xe2\x82 end\xc3".len());
        assert_eq!(l.unwrap().code, "not_utf8");
        let (t, l) = lossy_text(b"ab\0cd mail bob@example.com");
        assert_eq!((t.as_ref(), l.unwrap().code), ("ab\0cd mail bob@example.com", "binary"));
        let big = [b"x\xff".repeat(1 << 20)].concat();
        let started = std::time::Instant::now();
        assert_eq!(lossy_text(&big).0.len(), big.len());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
