//! The serde mirror of a pack file: what the user wrote, with spans on the fields that later
//! checks may blame. Validation happens in `compile`, once.

use serde::Deserialize;
use toml::Spanned;

/// A whole pack file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackFile {
    /// The `[pack]` header.
    pub pack: PackHeader,
    /// The `[[rule]]` entries.
    #[serde(default)]
    pub rule: Vec<Spanned<RuleSyntax>>,
    /// The `[[override]]` entries.
    #[serde(default, rename = "override")]
    pub overrides: Vec<Spanned<OverrideSyntax>>,
    /// The `[[allow]]` entries.
    #[serde(default)]
    pub allow: Vec<Spanned<AllowSyntax>>,
    /// Pack-level golden cases, run by `picket rules test`.
    #[serde(default)]
    pub case: Vec<Spanned<CaseSyntax>>,
}

/// `[[case]]`: a whole text through the engine, with what must (and must not) come out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSyntax {
    pub name: String,
    pub text: String,
    #[serde(default)]
    pub direction: Option<String>,
    /// Rule ids that must fire.
    #[serde(default)]
    pub expect: Vec<String>,
    /// Rule ids that must not fire.
    #[serde(default)]
    pub absent: Vec<String>,
    /// `allow`, `mask` or `block` under the default policy.
    #[serde(default)]
    pub decision: Option<String>,
}

/// `[[allow]]`: a value that is never reported (a test card, a documentation key).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSyntax {
    /// Only for this rule (default: every rule).
    pub rule: Option<Spanned<String>>,
    /// The finding's exact text.
    pub exact: Option<String>,
    /// A regex the finding's whole text must match.
    pub regex: Option<Spanned<String>>,
    #[serde(default)]
    pub description: String,
}

/// `[pack]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackHeader {
    pub id: Spanned<String>,
    pub version: String,
    #[serde(default)]
    pub description: String,
}

/// One `[[rule]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSyntax {
    pub id: Spanned<String>,
    pub category: Spanned<String>,
    pub label: String,
    pub kind: Spanned<String>,
    pub pattern: Option<Spanned<String>>,
    pub group: Option<usize>,
    pub keywords: Option<Spanned<Vec<String>>>,
    pub whole_words: Option<bool>,
    pub leet: Option<bool>,
    pub detector: Option<Spanned<String>>,
    pub validator: Option<Spanned<toml::Value>>,
    pub score: Spanned<f64>,
    pub action: Option<Spanned<String>>,
    pub mask: Option<Spanned<String>>,
    pub keep: Option<usize>,
    pub directions: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub stopwords: Vec<String>,
    pub context: Option<Spanned<ContextSyntax>>,
    pub examples: Option<ExamplesSyntax>,
    #[serde(default)]
    pub description: String,
}

/// `context = { ... }`: words near a match that raise or lower its score.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSyntax {
    #[serde(default)]
    pub words: Vec<String>,
    pub score: Option<f64>,
    #[serde(default)]
    pub negative: Vec<String>,
    pub negative_score: Option<f64>,
    pub window: Option<usize>,
}

/// `[rule.examples]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ExamplesSyntax {
    #[serde(default, rename = "match")]
    pub matches: Vec<String>,
    #[serde(default)]
    pub no_match: Vec<String>,
}

/// `[[override]]`: disable or re-score a rule of any loaded pack by id.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideSyntax {
    pub rule: Spanned<String>,
    pub enabled: Option<bool>,
    pub score: Option<f64>,
    pub action: Option<Spanned<String>>,
}
