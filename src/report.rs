//! The wire form of a scan (DESIGN §3). Nothing else defines JSON shapes of results.

use serde::Serialize;

use crate::detect::Via;
use crate::pack::Action;
use crate::policy::{Category, CategoryScores, Decision, Direction};

/// The result of one scan.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub decision: Decision,
    /// The highest category score.
    #[serde(serialize_with = "round")]
    pub score: f32,
    pub direction: Direction,
    /// The policy that decided.
    pub policy: String,
    pub categories: Categories,
    pub findings: Vec<ReportFinding>,
    /// Findings left out of `findings` because their rule already lists
    /// [`crate::engine::MAX_REPORTED_PER_RULE`]; they were scored and masked all the same.
    pub findings_omitted: usize,
    /// The masked text: present when the decision is `mask`, or when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked: Option<String>,
    pub classifier: Option<ClassifierReport>,
    /// Shadow mode: the policy would have blocked, but does not enforce.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub would_block: bool,
    /// Categories that reached their block threshold (or held a `block` finding).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<Category>,
    /// Which part the decision rests on: `rules`, `model` or `both`; absent for `allow`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<crate::policy::DecidedBy>,
    pub took_us: u64,
}

/// Category scores in wire order.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Categories {
    #[serde(serialize_with = "round")]
    pub pii: f32,
    #[serde(serialize_with = "round")]
    pub secret: f32,
    #[serde(serialize_with = "round")]
    pub injection: f32,
    #[serde(serialize_with = "round")]
    pub jailbreak: f32,
    #[serde(serialize_with = "round")]
    pub evasion: f32,
}

impl From<&CategoryScores> for Categories {
    fn from(s: &CategoryScores) -> Self {
        Categories {
            pii: s.get(Category::Pii),
            secret: s.get(Category::Secret),
            injection: s.get(Category::Injection),
            jailbreak: s.get(Category::Jailbreak),
            evasion: s.get(Category::Evasion),
        }
    }
}

/// One finding, owned, with byte and character spans into the original text.
#[derive(Debug, Clone, Serialize)]
pub struct ReportFinding {
    pub rule: String,
    pub category: Category,
    pub label: String,
    #[serde(serialize_with = "round")]
    pub score: f32,
    pub start: usize,
    pub end: usize,
    pub char_start: usize,
    pub char_end: usize,
    pub action: Action,
    pub via: Via,
    /// True when the masked text replaces this finding. False for `report` findings, and for
    /// findings under the policy's `min_score`: those stay in clear, and the report says so.
    pub masked: bool,
    /// The matched text, only when the policy allows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// What the classifier said about the text.
#[derive(Debug, Clone, Serialize)]
pub struct ClassifierReport {
    pub model: String,
    /// The winning label of the deciding window.
    pub label: String,
    /// Label probabilities of the deciding window.
    pub scores: std::collections::BTreeMap<String, f32>,
    /// Windows scored.
    pub windows: usize,
    /// Windows the text has; more than `windows` when the per-text window budget was reached.
    pub windows_total: usize,
    /// Byte span (original text) of the deciding window.
    pub window_start: usize,
    pub window_end: usize,
    /// An `[[allow]]` entry matched the whole text: the scores are reported but do not count.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allowlisted: bool,
}

/// Scores go on the wire with four decimals: more is noise, and it keeps snapshots stable.
fn round<S: serde::Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((f64::from(*v) * 10_000.0).round() / 10_000.0)
}
