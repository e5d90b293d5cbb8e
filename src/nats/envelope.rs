//! The job message: a small JSON envelope naming one document, with its bytes inline when they
//! are small and a reference (path, byte range, SHA-256) when they are not.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::batch::remote::{RemoteDoc, ScanSettings};

/// Version of the envelope format.
pub const VERSION: u32 = 1;

/// One document to scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub v: u32,
    pub corpus: String,
    pub doc_id: String,
    /// The idempotency id it was published with (see [`super::job_id`]).
    pub job_id: String,
    pub doc: RemoteDoc,
    pub settings: ScanSettings,
    /// Fingerprint of the submitter's packs (part of the idempotency id).
    pub packs: String,
    /// The bytes, when they are UTF-8 and small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The bytes, base64, when they are small but not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_b64: Option<String>,
}

/// Where a worker finds the bytes.
#[derive(Debug)]
pub enum Body {
    Inline(Vec<u8>),
    /// Read `doc.path` (the record's byte range for a record) and check the SHA-256.
    Reference,
}

impl Job {
    /// Put `bytes` inline when at most `inline_max` long.
    pub fn new(corpus: &str, doc: RemoteDoc, bytes: Vec<u8>, settings: ScanSettings, packs: &str, inline_max: usize) -> Job {
        let doc_id = super::doc_id(&doc.key());
        let job_id = super::job_id(corpus, &doc_id, &doc.sha256, packs);
        let (text, data_b64) = if bytes.len() > inline_max {
            (None, None)
        } else {
            match String::from_utf8(bytes) {
                Ok(text) => (Some(text), None),
                Err(e) => (None, Some(base64::engine::general_purpose::STANDARD.encode(e.as_bytes()))),
            }
        };
        Job { v: VERSION, corpus: corpus.to_string(), doc_id, job_id, doc, settings, packs: packs.to_string(), text, data_b64 }
    }

    /// Decode a job message; an error names what is wrong (the job is then dead-lettered).
    pub fn decode(payload: &[u8]) -> Result<Job, String> {
        let job: Job = serde_json::from_slice(payload).map_err(|e| format!("undecodable job: {e}"))?;
        if job.v != VERSION {
            return Err(format!("job format version {} (this worker reads {VERSION})", job.v));
        }
        super::check_corpus(&job.corpus).map_err(|e| e.to_string())?;
        Ok(job)
    }

    /// Where the bytes are.
    pub fn body(&self) -> Result<Body, String> {
        match (&self.text, &self.data_b64) {
            (Some(t), _) => Ok(Body::Inline(t.as_bytes().to_vec())),
            (None, Some(b)) => {
                base64::engine::general_purpose::STANDARD.decode(b).map(Body::Inline).map_err(|e| format!("undecodable job: data_b64: {e}"))
            }
            (None, None) => Ok(Body::Reference),
        }
    }
}

/// Read a document by reference: the whole file, or the record's byte range. An I/O error is
/// transient (a storage mount may come back); a short read is reported as the bytes read, and
/// the SHA-256 check then turns it into a permanent `source_changed`.
pub fn read_reference(doc: &RemoteDoc) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(&doc.path)?;
    let (offset, len) = match doc.record {
        Some(r) => (r.offset, r.len),
        None => (0, doc.bytes),
    };
    f.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(64 << 20));
    f.take(len.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}
