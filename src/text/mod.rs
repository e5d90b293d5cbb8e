//! The text being scanned: the original, its normalized view and the map between them.

use crate::budget::Budget;

pub mod confusables;
pub mod decode;
pub mod normalize;
pub mod values;

pub use normalize::{normalize, normalize_keyword, Normalized, OffsetMap};

/// One text under scan. Detectors read whichever view their rule asks for and report spans
/// into `original`.
pub struct ScanText<'a> {
    /// The text as received.
    pub original: &'a str,
    /// The normalized view (see [`normalize`]).
    pub normalized: Normalized,
    /// The value view for PII and secret rules, when some rewrite applies (see
    /// [`values::value_view`]).
    pub values: Option<values::ValueView>,
    /// When detectors must stop (see [`crate::budget`]).
    pub budget: Budget,
}

impl<'a> ScanText<'a> {
    /// Build the views of `original`.
    pub fn new(original: &'a str) -> ScanText<'a> {
        ScanText::with_budget(original, Budget::UNLIMITED)
    }

    /// Build the views of `original` for a scan that must stop when `budget` is spent.
    pub fn with_budget(original: &'a str, budget: Budget) -> ScanText<'a> {
        ScanText {
            original,
            normalized: normalize::normalize_within(original, budget),
            values: values::value_view(original, budget),
            budget,
        }
    }
}
