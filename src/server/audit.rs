//! The audit stream: one JSON line per decision, the record security teams keep. It says who
//! asked (tenant, key), when, under which request id, in which direction and policy, what was
//! decided and why (rule ids, category scores) — never the text, the masked text or a value.
//!
//! Lines go to a file (appended, created when missing) or stdout, each written whole and
//! flushed, so a crash loses at most the line being written and `tail -f` sees every decision.

use std::fs::OpenOptions;
use std::io::{LineWriter, Write};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use crate::config::AuditTarget;
use crate::report::{Categories, Report};

/// One audit record.
#[derive(Debug, Serialize)]
pub struct AuditRecord<'a> {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub request_id: &'a str,
    pub tenant: &'a str,
    pub key: &'a str,
    pub route: &'a str,
    /// Position of the text in a batch (absent for `/v1/scan`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    pub direction: &'a str,
    pub policy: &'a str,
    pub decision: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub would_block: bool,
    pub score: f64,
    pub scores: Categories,
    /// Distinct rule ids of the findings, sorted.
    pub rules: Vec<&'a str>,
    pub blocked_by: Vec<&'a str>,
    pub findings: usize,
    pub text_bytes: usize,
}

/// Who and where, for the record of a report.
pub struct Context<'a> {
    pub request_id: &'a str,
    pub tenant: &'a str,
    pub key: &'a str,
    pub route: &'a str,
    pub item: Option<usize>,
    pub text_bytes: usize,
}

/// The open audit sink.
pub struct Audit {
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Audit")
    }
}

impl Audit {
    /// Open the target (a file is opened for appending now, so a bad path fails at start-up).
    pub fn open(target: &AuditTarget) -> std::io::Result<Audit> {
        let out: Box<dyn Write + Send> = match target {
            AuditTarget::Stdout => Box::new(LineWriter::new(std::io::stdout())),
            AuditTarget::File(path) => Box::new(LineWriter::new(OpenOptions::new().create(true).append(true).open(path)?)),
        };
        Ok(Audit { out: Mutex::new(out) })
    }

    /// Write the record of one decision. A failed write is logged, never the record's content.
    pub fn record(&self, ctx: &Context<'_>, report: &Report) {
        let mut rules: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
        rules.sort_unstable();
        rules.dedup();
        let record = AuditRecord {
            time: rfc3339(SystemTime::now()),
            request_id: ctx.request_id,
            tenant: ctx.tenant,
            key: ctx.key,
            route: ctx.route,
            item: ctx.item,
            direction: report.direction.as_str(),
            policy: &report.policy,
            decision: report.decision.as_str(),
            would_block: report.would_block,
            score: (f64::from(report.score) * 10_000.0).round() / 10_000.0,
            scores: report.categories,
            rules,
            blocked_by: report.blocked_by.iter().map(|c| c.as_str()).collect(),
            findings: report.findings.len() + report.findings_omitted,
            text_bytes: ctx.text_bytes,
        };
        let Ok(mut line) = serde_json::to_vec(&record) else { return };
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = out.write_all(&line).and_then(|()| out.flush()) {
            tracing::error!(error = %e, "cannot write the audit record");
        }
    }
}

/// `2026-12-01T12:34:56.789Z` from a system time (UTC; civil-from-days, H. Hinnant).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, d.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(951_827_696_789); // a leap day
        assert_eq!(rfc3339(t), "2000-02-29T12:34:56.789Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_083_200); // 2026-12-01
        assert_eq!(rfc3339(t), "2026-12-01T00:00:00.000Z");
    }
}
