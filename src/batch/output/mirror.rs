//! `--masked-dir`: a mirror of the input tree holding masked copies of the ORIGINAL files. A
//! copy is the source streamed through with each masked span's bytes replaced, so everything
//! else (markup, JSON structure, other CSV columns, line endings) stays byte for byte.
//!
//! The mirror is meant to be indexed, so blocked documents are not in it (they are in the
//! quarantine list): a blocked file gets no copy, a blocked record's bytes are left out.
//!
//! A whole file is copied when its one document is written. A record file is copied as its
//! records are written, in record order (records may finish out of order; a few wait in a small
//! buffer bounded by the gate), so a file of any size streams through. Records that could not
//! be read or parsed were never scanned, so their bytes are left out of the copy; and a file
//! whose reading broke off is not copied at all.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::policy::Decision;

use super::super::document::Replacement;
use super::super::pipeline::{FileInfo, Item, Outcome, RecordRef};
use super::super::BatchError;

/// Longest tail after the last record that a record file's copy keeps (its final line breaks).
const TAIL_MAX: u64 = 64;

/// Masked copies being written.
#[derive(Default)]
pub(crate) struct Mirror {
    open: HashMap<u64, FileState>,
}

/// A record file whose copy is under way.
struct FileState {
    file: Arc<FileInfo>,
    /// Records received ahead of `next`.
    pending: BTreeMap<u64, Edit>,
    next: u64,
    /// End of the last record read: the copy stops there (bytes appended after the reader
    /// reached the end were never scanned).
    scanned_end: u64,
    /// Set by the file's end marker: record count and whether the file was read to its end.
    expected: Option<(u64, bool)>,
    copy: Option<Copier>,
}

/// What a record does to the copy.
enum Edit {
    Replace(Vec<Replacement>),
    /// Leave these bytes out.
    Drop {
        start: u64,
        end: u64,
    },
    Keep,
}

impl Mirror {
    /// Take a written document into account.
    pub fn item(&mut self, item: &Item) -> Result<(), BatchError> {
        let file = &item.doc.file;
        let Some(mirror) = &file.mirror else { return Ok(()) };
        let record_bytes = |r: RecordRef| Edit::Drop { start: r.offset, end: r.offset + r.len };
        let edit = match &item.outcome {
            Outcome::Scanned { scan, .. } if scan.decision == Decision::Block => match item.doc.record {
                Some(r) => record_bytes(r),
                None => return Ok(()),
            },
            Outcome::Scanned { scan, scanned: Some(bytes), .. } if item.doc.record.is_none() => {
                return copy_scanned(mirror, bytes, &scan.replacements);
            }
            Outcome::Scanned { scan, .. } => Edit::Replace(scan.replacements.clone()),
            // A resumed document keeps the copy of the run that scanned it.
            Outcome::Resumed(_) => return Ok(()),
            Outcome::Skipped { reason, .. } => match item.doc.record {
                Some(r) if !reason.keeps_record_in_mirror() => record_bytes(r),
                Some(_) => Edit::Keep,
                None => return Ok(()),
            },
        };
        let Some(record) = item.doc.record else {
            let Edit::Replace(replacements) = edit else { return Ok(()) };
            return copy_whole(file, mirror, &replacements);
        };
        let state = self.state(file);
        state.scanned_end = state.scanned_end.max(record.offset + record.len);
        state.pending.insert(record.index, edit);
        self.advance(file.id)
    }

    /// A record file's end marker.
    pub fn file_end(&mut self, file: &Arc<FileInfo>, records: u64, complete: bool) -> Result<(), BatchError> {
        if file.mirror.is_none() {
            return Ok(());
        }
        self.state(file).expected = Some((records, complete));
        self.advance(file.id)
    }

    /// Drop copies that never completed (only after an earlier error).
    pub fn finish(self) {
        for state in self.open.into_values() {
            if let Some(copy) = state.copy {
                let _ = std::fs::remove_file(copy.path);
            }
        }
    }

    fn state(&mut self, file: &Arc<FileInfo>) -> &mut FileState {
        self.open.entry(file.id).or_insert_with(|| FileState {
            file: file.clone(),
            pending: BTreeMap::new(),
            next: 0,
            scanned_end: 0,
            expected: None,
            copy: None,
        })
    }

    /// Apply every record that is next in order; close the copy when all are in.
    fn advance(&mut self, id: u64) -> Result<(), BatchError> {
        let Some(state) = self.open.get_mut(&id) else { return Ok(()) };
        while let Some(edit) = state.pending.remove(&state.next) {
            state.next += 1;
            let copy = state.copier()?;
            let result = match edit {
                Edit::Replace(replacements) => copy.replace_all(&replacements),
                Edit::Drop { start, end } => copy.copy_to(start).and_then(|()| copy.skip_to(end)),
                Edit::Keep => Ok(()),
            };
            result.map_err(|source| BatchError::Output { path: copy.path.clone(), source })?;
        }
        match state.expected {
            Some((records, complete)) if state.next == records => {
                let state = self.open.remove(&id).expect("state present");
                state.close(complete)
            }
            _ => Ok(()),
        }
    }
}

impl FileState {
    fn copier(&mut self) -> Result<&mut Copier, BatchError> {
        if self.copy.is_none() {
            let mirror = self.file.mirror.as_deref().expect("only mirrored files have state");
            self.copy = Some(Copier::open(&self.file.path, mirror)?);
        }
        Ok(self.copy.as_mut().expect("just opened"))
    }

    /// Finish the copy: the rest of the source goes through. A file whose reading broke off
    /// leaves no copy.
    fn close(mut self, complete: bool) -> Result<(), BatchError> {
        if !complete {
            if let Some(copy) = self.copy {
                let _ = std::fs::remove_file(copy.path);
            }
            return Ok(());
        }
        self.copier()?;
        let copy = self.copy.take().expect("just opened");
        let path = copy.path.clone();
        copy.finish_at(self.scanned_end).map_err(|source| BatchError::Output { path, source })
    }
}

/// Copy a whole file with its replacements.
fn copy_whole(file: &FileInfo, mirror: &Path, replacements: &[Replacement]) -> Result<(), BatchError> {
    let mut copy = Copier::open(&file.path, mirror)?;
    let path = copy.path.clone();
    copy.replace_all(replacements).and_then(|()| copy.finish()).map_err(|source| BatchError::Output { path, source })
}

/// Copy a whole file from the bytes that were scanned (issue 10: a second read of a file being
/// appended to put 59 unmasked keys and e-mails into its "masked" copy).
fn copy_scanned(mirror: &Path, scanned: &[u8], replacements: &[Replacement]) -> Result<(), BatchError> {
    let mut copy = Copier::create(Box::new(io::Cursor::new(scanned.to_vec())), mirror)?;
    let path = copy.path.clone();
    copy.replace_all(replacements).and_then(|()| copy.finish()).map_err(|source| BatchError::Output { path, source })
}

/// Streams a source (the file, or the bytes scanned from it) into its copy.
struct Copier {
    src: BufReader<Box<dyn Read>>,
    out: BufWriter<File>,
    /// Source bytes consumed so far.
    pos: u64,
    path: PathBuf,
}

impl Copier {
    fn open(source: &Path, mirror: &Path) -> Result<Copier, BatchError> {
        let failed = |path: &Path, source| BatchError::Output { path: path.to_path_buf(), source };
        if let Some(parent) = mirror.parent() {
            std::fs::create_dir_all(parent).map_err(|e| failed(parent, e))?;
        }
        let src = File::open(source).map_err(|e| failed(source, e))?;
        Copier::create(Box::new(src), mirror)
    }

    fn create(src: Box<dyn Read>, mirror: &Path) -> Result<Copier, BatchError> {
        let failed = |path: &Path, source| BatchError::Output { path: path.to_path_buf(), source };
        if let Some(parent) = mirror.parent() {
            std::fs::create_dir_all(parent).map_err(|e| failed(parent, e))?;
        }
        let out = File::create(mirror).map_err(|e| failed(mirror, e))?;
        Ok(Copier { src: BufReader::new(src), out: BufWriter::new(out), pos: 0, path: mirror.to_path_buf() })
    }

    fn replace_all(&mut self, replacements: &[Replacement]) -> io::Result<()> {
        for r in replacements {
            self.copy_to(r.start)?;
            self.skip_to(r.end)?;
            self.out.write_all(r.text.as_bytes())?;
        }
        Ok(())
    }

    fn copy_to(&mut self, to: u64) -> io::Result<()> {
        let n = to.saturating_sub(self.pos);
        self.pos += io::copy(&mut (&mut self.src).take(n), &mut self.out)?;
        Ok(())
    }

    fn skip_to(&mut self, to: u64) -> io::Result<()> {
        let n = to.saturating_sub(self.pos);
        self.pos += io::copy(&mut (&mut self.src).take(n), &mut io::sink())?;
        Ok(())
    }

    /// Copy up to `end`, then the line breaks that follow it (at most [`TAIL_MAX`] bytes of
    /// whitespace) and nothing more: what comes after was appended once the records had been
    /// read, and was never scanned.
    fn finish_at(mut self, end: u64) -> io::Result<()> {
        self.copy_to(end)?;
        let mut rest = Vec::new();
        (&mut self.src).take(TAIL_MAX).read_to_end(&mut rest)?;
        let breaks = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
        self.out.write_all(&rest[..breaks])?;
        self.out.flush()
    }

    fn finish(mut self) -> io::Result<()> {
        io::copy(&mut self.src, &mut self.out)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::document::DocScan;
    use crate::batch::extract::Format;
    use crate::batch::pipeline::DocRef;
    use crate::policy::CategoryScores;
    use crate::report::Categories;

    fn scanned(replacements: Vec<Replacement>, scanned: Option<Vec<u8>>) -> Outcome {
        let scan = DocScan {
            chunks: 1,
            decision: Decision::Mask,
            would_block: false,
            score: 0.9,
            categories: Categories::from(&CategoryScores::default()),
            findings: Vec::new(),
            blocked_chunks: Vec::new(),
            classified: 0,
            replacements,
        };
        Outcome::Scanned { sha256: [0; 32], bytes: 0, scan, scanned, lossy: None }
    }

    fn file(path: &Path, mirror: &Path, format: Format) -> Arc<FileInfo> {
        Arc::new(FileInfo { id: 1, path: path.into(), display: "f".into(), format, mirror: Some(mirror.into()) })
    }

    /// Issue 10: `--masked-dir` re-read the source, so a file appended to during the scan had
    /// its new, never-scanned lines copied in clear.
    #[test]
    fn a_whole_file_copy_is_made_from_the_scanned_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("a.txt"), dir.path().join("masked/a.txt"));
        let as_scanned = b"mail bob@example.com\n".to_vec();
        std::fs::write(&src, b"mail bob@example.com\nkey AKIAVQJXXVBOTHD2WTFL appended later\n").unwrap();
        let at = Replacement { start: 5, end: 20, text: "[EMAIL]".into() };
        let item =
            Item { doc: DocRef { file: file(&src, &dst, Format::Text), record: None }, outcome: scanned(vec![at], Some(as_scanned)) };
        Mirror::default().item(&item).unwrap();
        assert_eq!(std::fs::read_to_string(&dst).unwrap(), "mail [EMAIL]\n");
    }

    /// The same for a record file: lines appended after the last record was read stay out.
    #[test]
    fn a_record_file_copy_stops_after_the_last_record_read() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("a.jsonl"), dir.path().join("masked/a.jsonl"));
        let line = "{\"t\":\"bob@example.com\"}\n";
        std::fs::write(&src, format!("{line}{{\"t\":\"AKIAVQJXXVBOTHD2WTFL\"}}\n")).unwrap();
        let f = file(&src, &dst, Format::Jsonl);
        let record = RecordRef { index: 0, line: 1, offset: 0, len: line.len() as u64 - 1 };
        let at = Replacement { start: 6, end: 21, text: "[EMAIL]".into() };
        let mut mirror = Mirror::default();
        mirror.item(&Item { doc: DocRef { file: f.clone(), record: Some(record) }, outcome: scanned(vec![at], None) }).unwrap();
        mirror.file_end(&f, 1, true).unwrap();
        assert_eq!(std::fs::read_to_string(&dst).unwrap(), "{\"t\":\"[EMAIL]\"}\n");
    }
}
