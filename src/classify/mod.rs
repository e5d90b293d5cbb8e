//! The ONNX prompt-intent classifier.

/// Category scores and the wire report of one classification.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// (category, probability) pairs the classifier contributes.
    pub categories: Vec<(crate::policy::Category, f32)>,
    pub report: crate::report::ClassifierReport,
}

/// Why the classifier could not load or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("{0}")]
    Other(String),
}

/// The loaded classifier.
pub struct Classifier {}

impl Classifier {
    /// Classify one text.
    pub fn classify(&self, _text: &str) -> Result<Outcome, ModelError> {
        Err(ModelError::Other("classifier not built yet".into()))
    }
}
