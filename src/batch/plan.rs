//! Options → a validated plan. Everything a user can get wrong is checked here, once, before
//! a file is read: chunk sizes, selectors, globs, the policy name, inputs that do not exist,
//! and a masked-copy folder that overlaps the inputs. The pipeline then trusts the plan.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::engine::{Engine, ScanError};
use crate::mask::Masker;
use crate::pack::{CompiledPacks, MaskOp};
use crate::policy::Direction;

use super::chunk::Chunker;
use super::extract::csv::Column;
use super::extract::json::Selector;
use super::resume::ResumeIndex;
use super::walk::WalkSettings;
use super::{BatchError, BatchOptions, ClassifyPolicy, OutputTarget};

/// One input path.
#[derive(Debug, Clone)]
pub(crate) struct Root {
    pub path: PathBuf,
    pub is_dir: bool,
    /// Where this root's masked copies go, relative to the masked folder.
    pub mirror: PathBuf,
}

/// How a rule's spans are masked.
#[derive(Debug, Clone)]
pub(crate) struct RuleMask {
    pub op: MaskOp,
    pub label: String,
}

/// Validated options plus what the run needs from the engine.
pub(crate) struct Plan<'e> {
    pub engine: &'e Engine,
    /// The packs the run started with: their fingerprint goes into every report line.
    pub packs: Arc<CompiledPacks>,
    pub rules: HashMap<String, RuleMask>,
    pub policy: Option<String>,
    /// Findings below this score are reported but never masked (the policy's `min_score`).
    pub min_score: f32,
    pub direction: Direction,
    pub chunker: Chunker,
    pub selector: Option<Selector>,
    pub column: Option<Column>,
    pub classify: ClassifyPolicy,
    pub classifier_loaded: bool,
    pub max_file_size: u64,
    pub roots: Vec<Root>,
    pub walk: WalkSettings,
    pub threads: usize,
    pub ordered: bool,
    pub resume: Option<ResumeIndex>,
    pub report: Option<OutputTarget>,
    pub sarif: Option<OutputTarget>,
    pub quarantine: Option<PathBuf>,
    pub masked_dir: Option<PathBuf>,
    /// Masks the copies in `masked_dir`. Its `hash` key is random per run: the engine's key
    /// is private to it.
    pub masker: Masker,
    pub estimate_totals: bool,
    /// Stop requested (see [`BatchOptions::stop`]).
    pub stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Time one document may take; past it the document fails (queue workers set it).
    pub doc_budget: Option<std::time::Duration>,
}

impl<'e> Plan<'e> {
    pub fn new(o: &BatchOptions, engine: &'e Engine) -> Result<Plan<'e>, BatchError> {
        if o.paths.is_empty() {
            return Err(BatchError::Options("no input paths given".into()));
        }
        let roots = roots(&o.paths)?;
        if let Some(masked) = &o.masked_dir {
            check_masked_dir(masked, &roots)?;
        }
        check_outputs_are_not_inputs(o, &roots)?;
        Plan::build(o, engine, roots)
    }

    /// A plan with the scan settings only (no inputs, no outputs): what a queue worker scans
    /// documents with (see [`crate::batch::remote`]).
    pub fn scan_only(o: &BatchOptions, engine: &'e Engine) -> Result<Plan<'e>, BatchError> {
        Plan::build(o, engine, Vec::new())
    }

    fn build(o: &BatchOptions, engine: &'e Engine, roots: Vec<Root>) -> Result<Plan<'e>, BatchError> {
        let policy_name = o.policy.as_deref().unwrap_or("default");
        let policy = engine.policy(policy_name).ok_or_else(|| ScanError::UnknownPolicy(policy_name.to_string()))?;
        let options = |e: String| BatchError::Options(e);
        let packs = engine.packs();
        let resume = match (o.resume, &o.report) {
            (false, _) => None,
            (true, Some(OutputTarget::File(path))) => Some(ResumeIndex::load(path, &packs.fingerprint)?),
            (true, _) => return Err(options("--resume needs --report FILE: the report is what it resumes from".into())),
        };
        let rules = packs.rules.iter().map(|r| (r.id.clone(), RuleMask { op: r.mask, label: r.label.clone() })).collect();
        Ok(Plan {
            engine,
            packs,
            rules,
            policy: o.policy.clone(),
            min_score: policy.direction(o.direction).min_score,
            direction: o.direction,
            chunker: Chunker::new(o.chunk_size, o.chunk_overlap, o.chunk_unit).map_err(options)?,
            selector: o.field.as_deref().map(str::parse).transpose().map_err(options)?,
            column: o.csv_column.as_deref().map(str::parse).transpose().map_err(options)?,
            classify: o.classify,
            classifier_loaded: engine.classifier().is_some(),
            max_file_size: o.max_file_size,
            roots,
            walk: WalkSettings::new(&o.include, &o.exclude, o.hidden, o.no_ignore).map_err(options)?,
            threads: if o.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { o.threads },
            ordered: o.ordered,
            resume,
            report: o.report.clone(),
            sarif: o.sarif.clone(),
            quarantine: o.quarantine.clone(),
            masked_dir: o.masked_dir.clone(),
            masker: Masker::new(crate::engine::random_key()),
            estimate_totals: o.estimate_totals,
            stop: o.stop.clone(),
            doc_budget: None,
        })
    }

    /// Output files that the walk must not scan (a report written inside a scanned folder).
    pub fn output_files(&self) -> Vec<PathBuf> {
        let targets = [&self.report, &self.sarif].into_iter().flatten().filter_map(|t| match t {
            OutputTarget::File(p) => Some(p.clone()),
            OutputTarget::Stdout => None,
        });
        targets.chain(self.quarantine.clone()).map(|p| absolute(&p)).collect()
    }

    /// Where the masked copy of `path` (found under root `root`) goes.
    pub fn mirror_path(&self, root: usize, path: &Path) -> Option<PathBuf> {
        let dir = self.masked_dir.as_ref()?;
        let root = &self.roots[root];
        let rel = if root.is_dir { path.strip_prefix(&root.path).ok()?.to_path_buf() } else { PathBuf::from(path.file_name()?) };
        Some(dir.join(&root.mirror).join(rel))
    }
}

/// The inputs, each checked to exist. With several inputs each gets its own folder in the
/// masked mirror, named after it, so that two `README.md`s cannot collide.
fn roots(paths: &[PathBuf]) -> Result<Vec<Root>, BatchError> {
    let mut used: Vec<PathBuf> = Vec::new();
    paths
        .iter()
        .map(|path| {
            path.symlink_metadata().map_err(|source| BatchError::Input { path: path.clone(), source })?;
            let mirror = if paths.len() == 1 { PathBuf::new() } else { unique_name(path, &mut used) };
            Ok(Root { path: path.clone(), is_dir: path.is_dir(), mirror })
        })
        .collect()
}

fn unique_name(path: &Path, used: &mut Vec<PathBuf>) -> PathBuf {
    let base = absolute(path).file_name().map_or_else(|| "input".to_string(), |n| n.to_string_lossy().into_owned());
    let mut name = PathBuf::from(&base);
    let mut n = 2;
    while used.contains(&name) {
        name = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    used.push(name.clone());
    name
}

/// Refuse a masked folder that is, contains, or lies inside an input: masked copies must
/// never overwrite an input, and must not be scanned as inputs by the next run either.
fn check_masked_dir(masked: &Path, roots: &[Root]) -> Result<(), BatchError> {
    let masked_abs = absolute(masked);
    for root in roots {
        let input = absolute(&root.path);
        let inside = if root.is_dir { masked_abs.starts_with(&input) } else { masked_abs == input };
        if inside || input.starts_with(&masked_abs) {
            return Err(BatchError::MaskedDirOverlapsInput { masked: masked.to_path_buf(), input: root.path.clone() });
        }
    }
    Ok(())
}

/// An output file that is an input, or lies inside an input folder, would truncate an input
/// (issue 10: `--report` pointed at a file in the scanned folder emptied it, exit 0). Refused
/// like `--masked-dir`: outputs go outside the inputs.
fn check_outputs_are_not_inputs(o: &BatchOptions, roots: &[Root]) -> Result<(), BatchError> {
    let outputs = [("--report", &o.report), ("--sarif", &o.sarif)].into_iter().filter_map(|(flag, t)| match t {
        Some(OutputTarget::File(p)) => Some((flag, p)),
        _ => None,
    });
    for (flag, out) in outputs.chain(o.quarantine.iter().map(|q| ("--quarantine", q))) {
        let out_abs = absolute(out);
        for root in roots {
            let input = absolute(&root.path);
            let inside = if root.is_dir { out_abs.starts_with(&input) } else { out_abs == input };
            if inside {
                return Err(BatchError::OutputInsideInput { flag, output: out.clone(), input: root.path.clone() });
            }
        }
    }
    Ok(())
}

/// `path` made absolute, `.`/`..` resolved lexically, and the longest existing prefix
/// resolved through symlinks: comparable whether or not the path exists yet.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(path) };
    let mut lexical = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |acc, part: &&std::ffi::OsStr| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return lexical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_resolves_dots_for_paths_that_do_not_exist() {
        let cwd = std::env::current_dir().unwrap().canonicalize().unwrap();
        assert_eq!(absolute(Path::new("no/such/../dir")), cwd.join("no/dir"));
        assert_eq!(absolute(Path::new(".")), cwd);
    }

    #[test]
    fn masked_dir_may_not_overlap_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        let roots = vec![Root { path: input.clone(), is_dir: true, mirror: PathBuf::new() }];
        assert!(check_masked_dir(&input, &roots).is_err());
        assert!(check_masked_dir(&input.join("masked"), &roots).is_err());
        assert!(check_masked_dir(dir.path(), &roots).is_err());
        assert!(check_masked_dir(&input.join("../masked"), &roots).is_ok());
    }

    #[test]
    fn outputs_may_not_be_or_lie_inside_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        std::fs::write(input.join("notes.txt"), "keep me").unwrap();
        let roots = vec![Root { path: input.clone(), is_dir: true, mirror: PathBuf::new() }];
        let with = |report: Option<PathBuf>, sarif: Option<PathBuf>, quarantine: Option<PathBuf>| BatchOptions {
            report: report.map(OutputTarget::File),
            sarif: sarif.map(OutputTarget::File),
            quarantine,
            ..BatchOptions::default()
        };
        for (o, flag) in [
            (with(Some(input.join("notes.txt")), None, None), "--report"),
            (with(None, Some(input.join("sub/new.sarif")), None), "--sarif"),
            (with(None, None, Some(input.join("q.txt"))), "--quarantine"),
        ] {
            let err = check_outputs_are_not_inputs(&o, &roots).unwrap_err().to_string();
            assert!(err.starts_with(flag), "{err}");
        }
        assert!(check_outputs_are_not_inputs(&with(Some(dir.path().join("report.jsonl")), None, None), &roots).is_ok());
        assert_eq!(std::fs::read_to_string(input.join("notes.txt")).unwrap(), "keep me");
    }

    #[test]
    fn several_inputs_get_distinct_mirror_folders() {
        let mut used = Vec::new();
        assert_eq!(unique_name(Path::new("a/docs"), &mut used), PathBuf::from("docs"));
        assert_eq!(unique_name(Path::new("b/docs"), &mut used), PathBuf::from("docs-2"));
    }
}
