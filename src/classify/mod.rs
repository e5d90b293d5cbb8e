//! The ONNX prompt-intent classifier.
//!
//! A model directory holds `model.onnx`, `tokenizer.json` and `model.toml` ([`ModelConfig`]).
//! ONNX Runtime is loaded dynamically from an explicit path — never the implicit loader, which
//! panics when the library is missing. Text is cut into overlapping token windows
//! ([`windows`]); inference runs on dedicated threads, each owning one `ort::Session`
//! (`Session::run` takes `&mut self`), fed by a bounded channel ([`worker`]). The window with
//! the highest malicious probability decides.

pub mod model;
pub mod windows;
mod worker;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;

pub use model::ModelConfig;
use windows::Windower;
use worker::Pool;

use crate::policy::Category;
use crate::report::ClassifierReport;

/// Why the classifier could not load or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// No ONNX Runtime library at any of the places looked at.
    #[error("ONNX Runtime library not found (looked at: {}); run `scripts/setup-ort.sh` or set ORT_DYLIB_PATH, or pass --no-classifier", display_paths(.tried))]
    RuntimeNotFound { tried: Vec<PathBuf> },
    /// The library exists but ONNX Runtime failed.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// A file of the model directory is missing or unreadable.
    #[error("model file {path} cannot be read (set [model] dir in the config, pass --model DIR, or --no-classifier)")]
    Missing { path: PathBuf, source: std::io::Error },
    /// `model.toml` is invalid.
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    /// The tokenizer failed to load or encode.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The inference threads are gone.
    #[error("classifier worker stopped")]
    WorkerGone,
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

impl From<ort::Error> for ModelError {
    fn from(e: ort::Error) -> Self {
        ModelError::Runtime(e.to_string())
    }
}

/// Where to find the model and the runtime, and how many inference threads to run.
#[derive(Debug, Clone, Default)]
pub struct ClassifierOptions {
    /// Model directory; the shipped `models/picket-intent` when absent.
    pub model_dir: Option<PathBuf>,
    /// ONNX Runtime library; `ORT_DYLIB_PATH`, then `third_party/onnxruntime/` when absent.
    pub ort_dylib: Option<PathBuf>,
    /// Inference threads, one session each (default 1).
    pub threads: usize,
    /// Most windows scored per text (0: no limit). Windows past the budget are not scored and
    /// the report says so.
    pub max_windows: usize,
}

/// What one classification contributes to scoring, and its wire report.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// (category, calibrated score) pairs fed into the category noisy-OR.
    pub categories: Vec<(Category, f32)>,
    pub report: ClassifierReport,
}

/// Each scored window's byte span and label probabilities.
pub type WindowScores = Vec<(crate::span::Span, Vec<f32>)>;

/// A loaded model with its inference threads.
pub struct Classifier {
    config: ModelConfig,
    windower: Windower,
    pool: Pool,
    max_windows: usize,
}

/// ONNX Runtime allows one environment per process; all classifiers share it.
static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);

fn environment(dylib: &Path) -> Result<Environment, ModelError> {
    let mut env = ENVIRONMENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = env.as_ref() {
        return Ok(e.clone());
    }
    let built = ort::init_from(dylib)
        .map_err(|e| ModelError::Runtime(format!("loading {}: {e}", dylib.display())))?
        .with_name("picket")
        .with_telemetry(false)
        .build()?;
    *env = Some(built.clone());
    Ok(built)
}

/// Find the ONNX Runtime library: the configured path, `ORT_DYLIB_PATH`, then
/// `third_party/onnxruntime/libonnxruntime.so` in the working directory, the installed
/// `PREFIX/lib/picket/libonnxruntime.so` (the binary being `PREFIX/bin/picket`, as `make install`
/// lays it out), beside the executable's ancestors, and in the source tree this binary was
/// built from.
pub fn find_runtime(configured: Option<&Path>) -> Result<PathBuf, ModelError> {
    let explicit = configured.map(Path::to_path_buf).or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from));
    if let Some(p) = explicit {
        return if p.is_file() { Ok(p) } else { Err(ModelError::RuntimeNotFound { tried: vec![p] }) };
    }
    let tried = default_locations(Path::new("third_party/onnxruntime/libonnxruntime.so"), Path::new(INSTALLED_RUNTIME));
    tried.iter().find(|p| p.is_file()).cloned().ok_or(ModelError::RuntimeNotFound { tried })
}

/// Where `make install PREFIX=...` puts the runtime and the model, relative to PREFIX.
pub const INSTALLED_RUNTIME: &str = "lib/picket/libonnxruntime.so";
pub const INSTALLED_MODEL: &str = "share/picket/models/picket-intent";

/// The shipped model directory, looked for like the runtime (installed: `PREFIX/share/picket/
/// models/picket-intent`).
pub fn default_model_dir() -> PathBuf {
    let candidates = default_locations(Path::new("models/picket-intent"), Path::new(INSTALLED_MODEL));
    candidates.iter().find(|p| p.join("model.toml").is_file()).cloned().unwrap_or_else(|| candidates[0].clone())
}

/// `relative` in the working directory, `installed` under the install prefix of the running
/// executable, `relative` beside its ancestors, then in the source tree.
fn default_locations(relative: &Path, installed: &Path) -> Vec<PathBuf> {
    let mut out = vec![relative.to_path_buf()];
    if let Ok(exe) = std::env::current_exe() {
        let exe = exe.canonicalize().unwrap_or(exe);
        if let Some(prefix) = exe.parent().and_then(Path::parent) {
            out.push(prefix.join(installed));
        }
        out.extend(exe.ancestors().skip(1).take(4).map(|a| a.join(relative)));
    }
    out.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(relative));
    out
}

impl Classifier {
    /// Load the model and start its inference threads.
    pub fn load(options: &ClassifierOptions) -> Result<Classifier, ModelError> {
        let dir = options.model_dir.clone().unwrap_or_else(default_model_dir);
        let config = ModelConfig::load(&dir)?;
        let model_path = dir.join("model.onnx");
        let tokenizer_path = dir.join("tokenizer.json");
        for path in [&model_path, &tokenizer_path] {
            std::fs::metadata(path).map_err(|source| ModelError::Missing { path: path.clone(), source })?;
        }
        let dylib = find_runtime(options.ort_dylib.as_deref())?;
        let env = environment(&dylib)?;
        let tokenizer = tokenizers::Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| ModelError::Tokenizer(format!("{}: {e}", tokenizer_path.display())))?;
        let windower = Windower::new(tokenizer, &config)?;
        let pool = Pool::start(&env, &model_path, &config, options.threads.max(1))?;
        Ok(Classifier { config, windower, pool, max_windows: options.max_windows })
    }

    /// The model's description.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Label probabilities of each scored window of `text`, with the windows' spans, and the
    /// number of windows the whole text has (more than scored when the budget was reached).
    pub fn window_scores(&self, text: &str) -> Result<(WindowScores, usize), ModelError> {
        let (windows, total) = self.windower.windows(text, self.max_windows)?;
        let spans: Vec<_> = windows.iter().map(|w| w.span).collect();
        let probs = self.pool.infer(windows)?;
        Ok((spans.into_iter().zip(probs).collect(), total))
    }

    /// Classify `text`: the window with the highest malicious probability decides.
    pub fn classify(&self, text: &str) -> Result<Outcome, ModelError> {
        let (scored, total) = self.window_scores(text)?;
        let benign = self.config.benign;
        let malicious = |p: &[f32]| 1.0 - p[benign];
        let (span, probs) =
            scored.iter().max_by(|a, b| malicious(&a.1).total_cmp(&malicious(&b.1))).cloned().ok_or(ModelError::WorkerGone)?;
        let top = probs.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(benign, |(i, _)| i);
        let m = malicious(&probs);
        let dominant =
            self.config.categories.iter().filter(|(i, _)| *i != benign).max_by(|a, b| probs[a.0].total_cmp(&probs[b.0])).map(|(i, _)| *i);
        let categories = self
            .config
            .categories
            .iter()
            .map(|&(i, category)| {
                let p = if Some(i) == dominant { m } else { probs[i] };
                (category, calibrate(p, self.config.threshold))
            })
            .collect();
        let scores: BTreeMap<String, f32> =
            self.config.labels.iter().cloned().zip(probs.iter().map(|p| (p * 10_000.0).round() / 10_000.0)).collect();
        Ok(Outcome {
            categories,
            report: ClassifierReport {
                model: self.config.id.clone(),
                label: self.config.labels[top].clone(),
                scores,
                windows: scored.len(),
                windows_total: total,
                window_start: span.start,
                window_end: span.end,
                allowlisted: false,
            },
        })
    }
}

/// Map a probability onto the policy scale: the model's threshold lands on 0.8 (the default
/// block threshold), below it the score stays under 0.5 so the model alone does not block,
/// and a moderate score still adds to a rule hit through the noisy-OR.
pub fn calibrate(p: f32, threshold: f32) -> f32 {
    let p = p.clamp(0.0, 1.0);
    if threshold <= 0.0 {
        return p;
    }
    if p < threshold {
        0.5 * p / threshold
    } else if threshold >= 1.0 {
        0.8
    } else {
        0.8 + 0.2 * (p - threshold) / (1.0 - threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_maps_threshold_to_block_level() {
        assert_eq!(calibrate(0.0, 0.6), 0.0);
        assert!((calibrate(0.3, 0.6) - 0.25).abs() < 1e-6);
        assert!((calibrate(0.6, 0.6) - 0.8).abs() < 1e-6);
        assert!((calibrate(1.0, 0.6) - 1.0).abs() < 1e-6);
        assert!(calibrate(0.59, 0.6) < 0.5);
    }

    #[test]
    fn missing_runtime_names_what_to_run() {
        let err = find_runtime(Some(Path::new("/nonexistent/libonnxruntime.so"))).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/libonnxruntime.so") && err.contains("scripts/setup-ort.sh"), "{err}");
    }
}
