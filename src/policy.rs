//! Directions, categories, decisions and the policies that turn scores into decisions.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which way the text is crossing the model boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A user prompt on its way to the model.
    Input,
    /// A RAG chunk, tool result or fetched page on its way into the prompt.
    Context,
    /// Model output on its way back to a user or a tool.
    Output,
}

impl Direction {
    /// All directions, in wire order.
    pub const ALL: [Direction; 3] = [Direction::Input, Direction::Context, Direction::Output];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Input => "input",
            Direction::Context => "context",
            Direction::Output => "output",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "input" => Ok(Direction::Input),
            "context" => Ok(Direction::Context),
            "output" => Ok(Direction::Output),
            other => Err(format!("unknown direction {other:?} (expected input, context or output)")),
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of risk a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Personal data.
    Pii,
    /// Credentials and keys.
    Secret,
    /// Instruction override, prompt extraction, exfiltration, tool abuse.
    Injection,
    /// Attempts to remove the model's safety policy.
    Jailbreak,
    /// Hidden or obfuscated text.
    Evasion,
}

impl Category {
    /// All categories, in wire order.
    pub const ALL: [Category; 5] = [Category::Pii, Category::Secret, Category::Injection, Category::Jailbreak, Category::Evasion];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Pii => "pii",
            Category::Secret => "secret",
            Category::Injection => "injection",
            Category::Jailbreak => "jailbreak",
            Category::Evasion => "evasion",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown category {s:?} (expected pii, secret, injection, jailbreak or evasion)"))
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of a scan, ordered so that the strongest wins with `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Pass the text through.
    Allow,
    /// Pass the masked text.
    Mask,
    /// Refuse the text.
    Block,
}

impl Decision {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Mask => "mask",
            Decision::Block => "block",
        }
    }
}

/// Per-category scores in [0, 1].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CategoryScores(pub [f32; 5]);

impl CategoryScores {
    /// The score of one category.
    pub fn get(&self, c: Category) -> f32 {
        self.0[c.index()]
    }

    /// Noisy-OR another independent score into a category: `1 − (1 − a)(1 − b)`.
    pub fn combine(&mut self, c: Category, score: f32) {
        let s = &mut self.0[c.index()];
        *s = 1.0 - (1.0 - *s) * (1.0 - score.clamp(0.0, 1.0));
    }

    /// The highest category score.
    pub fn max(&self) -> f32 {
        self.0.iter().copied().fold(0.0, f32::max)
    }
}

/// What one direction does with scores.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectionPolicy {
    /// Block when a category's score reaches its threshold. Absent: that category never blocks.
    pub block: BTreeMap<Category, f32>,
    /// Findings below this score are reported but not masked and never block by action.
    pub min_score: f32,
}

/// A named policy: one [`DirectionPolicy`] per direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The policy's name, as requests refer to it.
    pub name: String,
    /// Per-direction settings, indexed by [`Direction`].
    pub directions: [DirectionPolicy; 3],
    /// Decide and report, but never enforce: a `block` is reported as `would_block` and the
    /// decision falls back to `mask` or `allow`.
    pub shadow: bool,
    /// Include matched values in findings (off by default: reports never echo secrets).
    pub include_values: bool,
}

impl Policy {
    /// The built-in `default` policy.
    pub fn default_policy() -> Policy {
        let t = |pairs: &[(Category, f32)]| pairs.iter().copied().collect::<BTreeMap<_, _>>();
        Policy {
            name: "default".to_string(),
            directions: [
                DirectionPolicy {
                    block: t(&[(Category::Injection, 0.8), (Category::Jailbreak, 0.8), (Category::Evasion, 0.9)]),
                    min_score: 0.5,
                },
                DirectionPolicy {
                    block: t(&[(Category::Injection, 0.7), (Category::Jailbreak, 0.8), (Category::Evasion, 0.8)]),
                    min_score: 0.5,
                },
                DirectionPolicy { block: t(&[(Category::Secret, 0.9), (Category::Evasion, 0.9)]), min_score: 0.5 },
            ],
            shadow: false,
            include_values: false,
        }
    }

    /// The settings for one direction.
    pub fn direction(&self, d: Direction) -> &DirectionPolicy {
        &self.directions[d.index()]
    }
}

/// The categories whose score reached their block threshold.
pub fn blocking_categories(policy: &DirectionPolicy, scores: &CategoryScores) -> Vec<Category> {
    policy.block.iter().filter(|(c, threshold)| scores.get(**c) >= **threshold).map(|(c, _)| *c).collect()
}

/// Which part of the engine a decision rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecidedBy {
    /// The rules alone reach the decision.
    Rules,
    /// The classifier alone reaches it.
    Model,
    /// Both reach it on their own, or only their combined score does.
    Both,
}

/// Who decided a block: the rules' and the model's scores are checked on their own against the
/// block thresholds. `rule_action_blocks` is true when a `block`-action finding fired.
pub fn block_decided_by(
    policy: &DirectionPolicy,
    rule_scores: &CategoryScores,
    model_scores: &CategoryScores,
    rule_action_blocks: bool,
) -> DecidedBy {
    let rules = rule_action_blocks || !blocking_categories(policy, rule_scores).is_empty();
    let model = !blocking_categories(policy, model_scores).is_empty();
    match (rules, model) {
        (true, false) => DecidedBy::Rules,
        (false, true) => DecidedBy::Model,
        _ => DecidedBy::Both,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_decided_by_names_the_part_that_reaches_the_threshold() {
        let policy = Policy::default_policy();
        let p = policy.direction(Direction::Input);
        let mut high = CategoryScores::default();
        high.combine(Category::Injection, 0.95);
        let mut mid = CategoryScores::default();
        mid.combine(Category::Injection, 0.6);
        let none = CategoryScores::default();
        assert_eq!(block_decided_by(p, &high, &none, false), DecidedBy::Rules);
        assert_eq!(block_decided_by(p, &none, &high, false), DecidedBy::Model);
        assert_eq!(block_decided_by(p, &high, &high, false), DecidedBy::Both);
        assert_eq!(block_decided_by(p, &mid, &mid, false), DecidedBy::Both);
        assert_eq!(block_decided_by(p, &none, &high, true), DecidedBy::Both);
    }

    #[test]
    fn noisy_or_combines_independent_scores() {
        let mut s = CategoryScores::default();
        s.combine(Category::Injection, 0.6);
        s.combine(Category::Injection, 0.6);
        assert!((s.get(Category::Injection) - 0.84).abs() < 1e-6);
        s.combine(Category::Pii, 1.5);
        assert_eq!(s.get(Category::Pii), 1.0);
    }

    #[test]
    fn decisions_order_by_strength() {
        assert!(Decision::Block > Decision::Mask && Decision::Mask > Decision::Allow);
    }

    #[test]
    fn default_policy_blocks_two_strong_injection_phrases_only() {
        let p = Policy::default_policy();
        let mut s = CategoryScores::default();
        s.combine(Category::Injection, 0.6);
        assert!(blocking_categories(p.direction(Direction::Input), &s).is_empty());
        s.combine(Category::Injection, 0.6);
        assert_eq!(blocking_categories(p.direction(Direction::Input), &s), vec![Category::Injection]);
    }
}
