//! The text being scanned: the original, its normalized view and the map between them.

pub mod decode;
pub mod normalize;

pub use normalize::{normalize, normalize_keyword, Normalized, OffsetMap};

/// One text under scan. Detectors read whichever view their rule asks for and report spans
/// into `original`.
pub struct ScanText<'a> {
    /// The text as received.
    pub original: &'a str,
    /// The normalized view (see [`normalize`]).
    pub normalized: Normalized,
}

impl<'a> ScanText<'a> {
    /// Build the views of `original`.
    pub fn new(original: &'a str) -> ScanText<'a> {
        ScanText { original, normalized: normalize(original) }
    }
}
