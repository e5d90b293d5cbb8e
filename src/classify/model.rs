//! `model.toml`: what a model directory declares about its ONNX graph and labels.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::ModelError;
use crate::policy::Category;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSyntax {
    id: String,
    version: String,
    labels: Vec<String>,
    benign_label: String,
    max_tokens: usize,
    stride: usize,
    pad_id: u32,
    #[serde(default = "default_inputs")]
    inputs: Vec<String>,
    #[serde(default = "default_output")]
    output: String,
    threshold: f32,
    #[serde(default)]
    categories: BTreeMap<String, String>,
}

fn default_inputs() -> Vec<String> {
    vec!["input_ids".into(), "attention_mask".into()]
}

fn default_output() -> String {
    "logits".into()
}

/// Which graph input a name feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Token ids.
    Ids,
    /// 1 for tokens, 0 for padding.
    AttentionMask,
    /// Segment ids (all 0 for one sequence).
    TokenTypes,
}

/// A validated model description.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub id: String,
    pub version: String,
    /// Labels in logit order.
    pub labels: Vec<String>,
    /// Index of the benign label.
    pub benign: usize,
    /// Window length in tokens, special tokens included.
    pub max_tokens: usize,
    /// Step between window starts in tokens.
    pub stride: usize,
    pub pad_id: u32,
    /// Graph inputs to feed, in the graph's names.
    pub inputs: Vec<(String, InputKind)>,
    pub output: String,
    /// Malicious probability (1 − P(benign)) at or above which the text is malicious.
    pub threshold: f32,
    /// Label index → category it feeds.
    pub categories: Vec<(usize, Category)>,
}

impl ModelConfig {
    /// Read and validate `dir/model.toml`.
    pub fn load(dir: &Path) -> Result<ModelConfig, ModelError> {
        let path = dir.join("model.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| ModelError::Missing { path: path.clone(), source: e })?;
        ModelConfig::parse(&text).map_err(|message| ModelError::Config { path, message })
    }

    /// Validate model.toml text.
    pub fn parse(text: &str) -> Result<ModelConfig, String> {
        let s: ModelSyntax = toml::from_str(text).map_err(|e| e.to_string())?;
        let index = |label: &str| s.labels.iter().position(|l| l == label);
        let benign = index(&s.benign_label).ok_or_else(|| format!("benign_label {:?} is not in labels", s.benign_label))?;
        if s.max_tokens < 8 {
            return Err("max_tokens must be at least 8".into());
        }
        if s.stride == 0 || s.stride > s.max_tokens {
            return Err(format!("stride must be in 1..={}", s.max_tokens));
        }
        if !(0.0..=1.0).contains(&s.threshold) {
            return Err("threshold must be in [0, 1]".into());
        }
        let mut inputs = Vec::new();
        for name in &s.inputs {
            let kind = match name.as_str() {
                "input_ids" => InputKind::Ids,
                "attention_mask" => InputKind::AttentionMask,
                "token_type_ids" => InputKind::TokenTypes,
                other => return Err(format!("unknown input {other:?} (expected input_ids, attention_mask, token_type_ids)")),
            };
            inputs.push((name.clone(), kind));
        }
        if !inputs.iter().any(|(_, k)| *k == InputKind::Ids) {
            return Err("inputs must include input_ids".into());
        }
        let mut categories = Vec::new();
        for (label, category) in &s.categories {
            let i = index(label).ok_or_else(|| format!("categories: label {label:?} is not in labels"))?;
            categories.push((i, category.parse::<Category>()?));
        }
        Ok(ModelConfig {
            id: s.id,
            version: s.version,
            labels: s.labels,
            benign,
            max_tokens: s.max_tokens,
            stride: s.stride,
            pad_id: s.pad_id,
            inputs,
            output: s.output,
            threshold: s.threshold,
            categories,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "m"
version = "1"
labels = ["benign", "injection", "jailbreak"]
benign_label = "benign"
max_tokens = 256
stride = 192
pad_id = 0
inputs = ["input_ids", "attention_mask", "token_type_ids"]
threshold = 0.5
[categories]
injection = "injection"
jailbreak = "jailbreak"
"#;

    #[test]
    fn parses_and_validates() {
        let c = ModelConfig::parse(GOOD).unwrap();
        assert_eq!(c.benign, 0);
        assert_eq!(c.categories, vec![(1, Category::Injection), (2, Category::Jailbreak)]);
        assert!(ModelConfig::parse(&GOOD.replace("benign_label = \"benign\"", "benign_label = \"safe\"")).is_err());
        assert!(ModelConfig::parse(&GOOD.replace("stride = 192", "stride = 0")).is_err());
        assert!(ModelConfig::parse(&GOOD.replace("jailbreak = \"jailbreak\"", "jailbreak = \"nope\"")).is_err());
    }
}
