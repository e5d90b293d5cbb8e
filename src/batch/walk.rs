//! Listing the files to scan with the `ignore` crate (ripgrep's walker): `.gitignore`,
//! `.ignore` and git exclude files are honoured even outside a git repository (a document
//! export is rarely one), hidden files are scanned (secrets live in `.env` and
//! `.aws/credentials`; issue 10: they were skipped silently) except version-control folders
//! unless asked for, and `--include` /
//! `--exclude` globs use gitignore syntax. Files come out sorted by name within each folder so
//! that runs over the same tree are reproducible.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::overrides::{Override, OverrideBuilder};
use ignore::{DirEntry, WalkBuilder};

use super::plan::{absolute, Root};
use super::skip::SkipReason;

/// Walk settings, validated.
#[derive(Debug, Clone)]
pub(crate) struct WalkSettings {
    overrides: Override,
    hidden: bool,
    no_ignore: bool,
}

impl WalkSettings {
    /// Compile the include and exclude globs (relative globs match against paths relative to
    /// the current folder, as in ripgrep's `-g`).
    pub fn new(include: &[String], exclude: &[String], hidden: bool, no_ignore: bool) -> Result<WalkSettings, String> {
        let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current folder: {e}"))?;
        let mut builder = OverrideBuilder::new(cwd);
        for glob in include {
            builder.add(glob).map_err(|e| format!("--include {glob:?}: {e}"))?;
        }
        for glob in exclude {
            builder.add(&format!("!{glob}")).map_err(|e| format!("--exclude {glob:?}: {e}"))?;
        }
        let overrides = builder.build().map_err(|e| format!("bad glob: {e}"))?;
        Ok(WalkSettings { overrides, hidden, no_ignore })
    }
}

/// One thing the walk found.
#[derive(Debug)]
pub(crate) enum Entry {
    /// A regular file (or a symlink to one) under root number `root`.
    File { path: PathBuf, root: usize, size: u64 },
    /// Something that cannot be scanned, with the reason.
    Skip { path: PathBuf, reason: SkipReason },
}

/// Walk every root in order, calling `each` until it returns false. Files in `outputs`
/// (absolute paths of this run's own output files) are passed over silently. What an ignore
/// rule hides is reported too (a security scanner never skips silently): after a root's
/// filtered walk, a second walk without ignore files reports each path the first did not
/// yield, once per topmost ignored folder.
pub(crate) fn walk(roots: &[Root], settings: &WalkSettings, outputs: &[PathBuf], mut each: impl FnMut(Entry) -> bool) {
    for (index, root) in roots.iter().enumerate() {
        let mut seen = HashSet::new();
        for result in builder(&root.path, settings, !settings.no_ignore).build() {
            let entry = match result {
                Ok(entry) => {
                    if !settings.no_ignore {
                        seen.insert(entry.path().to_path_buf());
                    }
                    classify(entry, index, outputs)
                }
                Err(err) => {
                    let path = error_path(&err).unwrap_or_else(|| root.path.clone());
                    Some(Entry::Skip { path, reason: SkipReason::Walk(err.to_string()) })
                }
            };
            if let Some(entry) = entry {
                if !each(entry) {
                    return;
                }
            }
        }
        if !settings.no_ignore && !report_ignored(&root.path, settings, seen, &mut each) {
            return;
        }
    }
}

/// Report every path under `root` that the filtered walk did not yield, pruning at the first
/// ignored folder. Returns false when `each` asked to stop.
fn report_ignored(root: &Path, settings: &WalkSettings, seen: HashSet<PathBuf>, each: &mut impl FnMut(Entry) -> bool) -> bool {
    let seen = Arc::new(seen);
    let ignored = Arc::new(Mutex::new(Vec::new()));
    let mut b = builder(root, settings, false);
    let (hidden, found) = (settings.hidden, Arc::clone(&ignored));
    b.filter_entry(move |e| {
        let folder = e.file_type().is_some_and(|t| t.is_dir());
        if !hidden && folder && e.depth() > 0 && is_vcs_dir(e.file_name()) {
            return false;
        }
        if seen.contains(e.path()) {
            return true;
        }
        found.lock().expect("ignored list").push((e.path().to_path_buf(), folder));
        false
    });
    for _ in b.build() {
        let batch: Vec<(PathBuf, bool)> = std::mem::take(&mut *ignored.lock().expect("ignored list"));
        for (path, folder) in batch {
            if !each(Entry::Skip { path, reason: SkipReason::Ignored { folder } }) {
                return false;
            }
        }
    }
    let rest: Vec<(PathBuf, bool)> = std::mem::take(&mut *ignored.lock().expect("ignored list"));
    rest.into_iter().all(|(path, folder)| each(Entry::Skip { path, reason: SkipReason::Ignored { folder } }))
}

/// Count the files and bytes a walk would yield (for progress with an ETA).
pub(crate) fn totals(roots: &[Root], settings: &WalkSettings, outputs: &[PathBuf]) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    walk(roots, settings, outputs, |entry| {
        if let Entry::File { size, .. } = entry {
            files += 1;
            bytes += size;
        }
        true
    });
    (files, bytes)
}

/// The walker; `ignore_files: false` turns off `.gitignore`/`.ignore`/git-exclude handling.
/// The folder filter is set only on the filtered walk: `report_ignored` sets its own.
fn builder(root: &Path, settings: &WalkSettings, ignore_files: bool) -> WalkBuilder {
    let mut b = WalkBuilder::new(root);
    if !ignore_files {
        b.standard_filters(false);
    }
    if ignore_files && !settings.hidden {
        b.filter_entry(|e| !(e.depth() > 0 && e.file_type().is_some_and(|t| t.is_dir()) && is_vcs_dir(e.file_name())));
    }
    b.hidden(false).require_git(false).follow_links(false).overrides(settings.overrides.clone()).sort_by_file_name(|a, b| a.cmp(b));
    b
}

/// Version-control metadata: walked only with `--hidden`.
fn is_vcs_dir(name: &std::ffi::OsStr) -> bool {
    matches!(name.to_str(), Some(".git" | ".hg" | ".svn"))
}

/// Folders are walked, not reported; symlinks are looked through to see what they point at
/// (a dangling one is reported as unreadable) but folder symlinks are not followed, which
/// keeps the walk free of cycles.
fn classify(entry: DirEntry, root: usize, outputs: &[PathBuf]) -> Option<Entry> {
    let file_type = entry.file_type()?;
    if file_type.is_dir() {
        return None;
    }
    let path = entry.into_path();
    let metadata = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if file_type.is_symlink() => {
            return Some(Entry::Skip { path, reason: SkipReason::Unreadable(format!("broken symlink: {e}")) })
        }
        Err(e) => return Some(Entry::Skip { path, reason: SkipReason::Unreadable(e.to_string()) }),
    };
    if metadata.is_dir() {
        return Some(Entry::Skip { path, reason: SkipReason::NotAFile("symlink to a folder (not followed)") });
    }
    if !metadata.is_file() {
        return Some(Entry::Skip { path, reason: SkipReason::NotAFile("not a regular file") });
    }
    if is_output(&path, outputs) {
        return None;
    }
    Some(Entry::File { path, root, size: metadata.len() })
}

fn is_output(path: &Path, outputs: &[PathBuf]) -> bool {
    outputs.iter().any(|out| out.file_name() == path.file_name()) && outputs.contains(&absolute(path))
}

/// The path an `ignore` error is about, if it names one.
fn error_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithLineNumber { err, .. } | ignore::Error::WithDepth { err, .. } => error_path(err),
        ignore::Error::Partial(errs) => errs.iter().find_map(error_path),
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path, settings: &WalkSettings) -> Vec<String> {
        let roots = [Root { path: dir.to_path_buf(), is_dir: true, mirror: PathBuf::new() }];
        let mut out = Vec::new();
        walk(&roots, settings, &[], |e| {
            if let Entry::File { path, .. } = e {
                out.push(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
            true
        });
        out
    }

    #[test]
    fn honours_gitignore_without_git_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::create_dir_all(d.join(".aws")).unwrap();
        std::fs::create_dir_all(d.join(".git")).unwrap();
        for f in ["a.txt", "b.md", "secret.log", "sub/c.txt", ".hidden.txt", ".env", ".aws/credentials", ".git/config"] {
            std::fs::write(d.join(f), "x").unwrap();
        }
        std::fs::write(d.join(".gitignore"), "*.log\n").unwrap();
        // Issue 10: .env and .aws/credentials were skipped silently; .git stays out.
        let all = WalkSettings::new(&[], &[], false, false).unwrap();
        assert_eq!(names(d, &all), [".aws/credentials", ".env", ".gitignore", ".hidden.txt", "a.txt", "b.md", "sub/c.txt"]);
        let md = WalkSettings::new(&["*.md".into()], &[], false, false).unwrap();
        assert_eq!(names(d, &md), ["b.md"]);
        let no_sub = WalkSettings::new(&[], &["sub".into()], false, false).unwrap();
        assert_eq!(names(d, &no_sub), [".aws/credentials", ".env", ".gitignore", ".hidden.txt", "a.txt", "b.md"]);
        let everything = WalkSettings::new(&[], &[], true, true).unwrap();
        assert_eq!(names(d, &everything).len(), 9);
    }

    /// Issue 10: what an ignore rule hides is listed, a folder once (its files are not).
    #[test]
    fn ignored_paths_are_reported_once_per_topmost_folder() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("build/deep")).unwrap();
        std::fs::create_dir_all(d.join(".git")).unwrap();
        for f in ["keep.txt", "app.log", "build/a.txt", "build/deep/b.txt", ".git/config"] {
            std::fs::write(d.join(f), "x").unwrap();
        }
        std::fs::write(d.join(".gitignore"), "*.log\nbuild/\n").unwrap();
        let roots = [Root { path: d.to_path_buf(), is_dir: true, mirror: PathBuf::new() }];
        let mut skipped = Vec::new();
        walk(&roots, &WalkSettings::new(&[], &[], false, false).unwrap(), &[], |e| {
            if let Entry::Skip { path, reason } = e {
                skipped.push((path.strip_prefix(d).unwrap().to_string_lossy().into_owned(), reason));
            }
            true
        });
        skipped.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            skipped,
            [("app.log".to_string(), SkipReason::Ignored { folder: false }), ("build".to_string(), SkipReason::Ignored { folder: true })]
        );
        let mut none = 0;
        walk(&roots, &WalkSettings::new(&[], &[], false, true).unwrap(), &[], |e| {
            none += matches!(e, Entry::Skip { .. }) as usize;
            true
        });
        assert_eq!(none, 0, "--no-ignore scans everything, so nothing is reported as ignored");
    }

    #[test]
    fn bad_globs_are_refused() {
        assert!(WalkSettings::new(&["a[".into()], &[], false, false).is_err());
    }
}
