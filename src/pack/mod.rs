//! Rule packs: loading, validation and compilation into an immutable, shareable set.

mod compile;
pub mod diagnostic;
pub mod examples;
pub mod syntax;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use compile::compile;
pub use diagnostic::{Diagnostic, Severity};

use crate::detect::{Detectors, EvasionKind, RuleId, Validator};
use crate::policy::{Category, Direction};

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Report and score only.
    Report,
    /// Mask its span when the decision is `mask`.
    Mask,
    /// Block the text whenever it fires.
    Block,
}

impl Action {
    pub(crate) fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "report" => Action::Report,
            "mask" => Action::Mask,
            "block" => Action::Block,
            _ => return None,
        })
    }
}

/// How a masked span is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskOp {
    /// `[LABEL]`.
    Label,
    /// Keep the last `keep` characters, star the rest.
    Partial { keep: usize },
    /// `[LABEL:hmac]`: keyed, stable across requests.
    Hash,
    /// `<LABEL_n>`: reversible within a session.
    Token,
}

/// The detection logic of a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// A regex on the original text.
    Regex { pattern: String, validator: Option<Validator> },
    /// Keywords on the normalized text.
    Keywords { keywords: Vec<String>, whole_words: bool, leet: bool },
    /// A built-in evasion detector.
    Evasion(EvasionKind),
}

/// Where a rule was defined.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub pack: String,
    pub category: Category,
    pub label: String,
    pub kind: RuleKind,
    pub score: f32,
    pub action: Action,
    pub mask: MaskOp,
    pub directions: [bool; 3],
    pub enabled: bool,
    pub examples: syntax::ExamplesSyntax,
    pub location: Location,
    pub description: String,
    /// Bytes around a match that its context words are looked for in (0: no context words).
    /// A stream holds a finding back until this much text follows it ([`crate::stream`]).
    pub context_window: usize,
}

impl Rule {
    /// True when the rule runs for `direction`.
    pub fn applies_to(&self, direction: Direction) -> bool {
        self.enabled && self.directions[direction.index()]
    }
}

/// A loaded pack's identity, for `/v1/packs` and `rules list`.
#[derive(Debug, Clone, Serialize)]
pub struct PackInfo {
    pub id: String,
    pub version: String,
    pub description: String,
    pub source: String,
    pub rules: usize,
}

/// An allowlist entry: findings whose text it matches are dropped.
#[derive(Debug, Clone)]
pub struct Allow {
    /// Only this rule's findings; `None`: every rule.
    pub rule: Option<RuleId>,
    pub matcher: AllowMatcher,
}

/// How an allowlist entry matches a finding's text.
#[derive(Debug, Clone)]
pub enum AllowMatcher {
    Exact(String),
    /// Anchored at both ends.
    Regex(regex::Regex),
}

impl Allow {
    /// True when this entry allows `text` found by `rule`.
    pub fn allows(&self, rule: RuleId, text: &str) -> bool {
        self.rule.is_none_or(|r| r == rule)
            && match &self.matcher {
                AllowMatcher::Exact(s) => s == text,
                AllowMatcher::Regex(re) => re.is_match(text),
            }
    }
}

/// A pack-level golden case and where it was written.
#[derive(Debug, Clone)]
pub struct PackCase {
    pub case: syntax::CaseSyntax,
    pub location: Location,
}

/// Rules compiled into detectors. Immutable; shared as `Arc` and replaced whole on reload.
pub struct CompiledPacks {
    pub rules: Vec<Rule>,
    /// Golden cases from every pack.
    pub cases: Vec<PackCase>,
    /// Allowlist entries from every pack.
    pub allow: Vec<Allow>,
    pub detectors: Detectors,
    pub packs: Vec<PackInfo>,
    /// SHA-256 over every pack's source text, in load order.
    pub fingerprint: String,
    /// Problems that do not refuse the packs.
    pub warnings: Vec<Diagnostic>,
}

impl CompiledPacks {
    /// True when an `[[allow]]` entry that is not tied to one rule matches the whole text
    /// (surrounding whitespace trimmed). The classifier's verdict on such a text is reported
    /// but does not count toward scores or decisions.
    pub fn allows_whole_text(&self, text: &str) -> bool {
        let text = text.trim();
        self.allow.iter().any(|a| {
            a.rule.is_none()
                && match &a.matcher {
                    AllowMatcher::Exact(s) => s == text,
                    AllowMatcher::Regex(re) => re.is_match(text),
                }
        })
    }

    /// The rule behind a finding.
    pub fn rule(&self, id: RuleId) -> &Rule {
        &self.rules[id as usize]
    }

    /// Look a rule up by its id string.
    pub fn rule_by_id(&self, id: &str) -> Option<(RuleId, &Rule)> {
        self.rules.iter().enumerate().find(|(_, r)| r.id == id).map(|(i, r)| (i as RuleId, r))
    }
}

/// The text of one pack file and the name errors should use for it.
#[derive(Debug, Clone)]
pub struct PackSource {
    pub name: String,
    pub text: String,
}

/// Why packs could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// A pack file or folder could not be read.
    #[error("cannot read rule pack {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A pack file is not valid UTF-8.
    #[error("rule pack {path} is not valid UTF-8")]
    NotUtf8 { path: PathBuf },
    /// Packs were read but are invalid; every problem is listed.
    #[error("{} problem(s) in rule packs:\n{}", .0.len(), render(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n")
}

/// The packs embedded in the binary (the shipped `rules/` folder).
pub fn builtin_sources() -> Vec<PackSource> {
    [
        ("builtin:pii.toml", include_str!("../../rules/pii.toml")),
        ("builtin:secrets.toml", include_str!("../../rules/secrets.toml")),
        ("builtin:secrets-providers.toml", include_str!("../../rules/secrets-providers.toml")),
        ("builtin:injection.toml", include_str!("../../rules/injection.toml")),
        ("builtin:evasion.toml", include_str!("../../rules/evasion.toml")),
    ]
    .into_iter()
    .map(|(name, text)| PackSource { name: name.to_string(), text: text.to_string() })
    .collect()
}

/// Read pack files: each path is a `.toml` file or a folder whose `*.toml` files are read in
/// name order.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<PackSource>, PackError> {
    let mut sources = Vec::new();
    for path in paths {
        let io = |source| PackError::Io { path: path.clone(), source };
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
                .collect();
            files.sort();
            for file in files {
                sources.push(read_one(&file)?);
            }
        } else {
            sources.push(read_one(path)?);
        }
    }
    Ok(sources)
}

fn read_one(path: &Path) -> Result<PackSource, PackError> {
    let bytes = std::fs::read(path).map_err(|source| PackError::Io { path: path.to_path_buf(), source })?;
    let text = String::from_utf8(bytes).map_err(|_| PackError::NotUtf8 { path: path.to_path_buf() })?;
    Ok(PackSource { name: path.display().to_string(), text })
}

/// The shipped packs plus the packs found at `extra` paths, compiled.
pub fn load(extra: &[PathBuf]) -> Result<CompiledPacks, PackError> {
    let mut sources = builtin_sources();
    sources.extend(read_sources(extra)?);
    compile(&sources)
}
