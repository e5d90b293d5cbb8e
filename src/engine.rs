//! The engine: current packs, classifier and policies; `scan` is the one entry point that the
//! CLI, the HTTP server and the batch scanner all call.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use tracing::field::Empty;

use crate::budget::{Budget, BudgetSpent};
use crate::classify::{Classifier, ModelError};
use crate::detect::{Finding, RuleId};
use crate::mask::{MaskSpan, Masker};
use crate::pack::{self, Action, CompiledPacks, MaskOp, PackError, PackSource};
use crate::policy::{block_decided_by, blocking_categories, Category, CategoryScores, DecidedBy, Decision, Direction, Policy};
use crate::report::{Categories, Report, ReportFinding};
use crate::span::{CharIndex, Span};
use crate::text::ScanText;
use crate::vault::{SessionStore, SessionTokens, Vault, VaultError, VaultLimits};

/// Everything needed to build an [`Engine`].
pub struct EngineConfig {
    /// Pack files or folders loaded after the shipped packs.
    pub extra_packs: Vec<PathBuf>,
    /// Leave the shipped packs out (only `extra_packs` are loaded).
    pub no_builtin_packs: bool,
    /// Named policies besides (or replacing) `default`.
    pub policies: Vec<Policy>,
    /// Key for the `hash` mask operator; random per process when absent.
    pub hash_key: Option<Vec<u8>>,
    pub vault: VaultLimits,
    /// Longest text accepted, in bytes.
    pub max_text_bytes: usize,
    /// The intent classifier, if one is loaded.
    pub classifier: Option<Arc<Classifier>>,
    /// Where reversible-token sessions live; `None`: an in-process [`Vault`] with `vault`'s limits.
    pub vault_store: Option<Arc<dyn SessionStore>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            extra_packs: Vec::new(),
            no_builtin_packs: false,
            policies: Vec::new(),
            hash_key: None,
            vault: VaultLimits::default(),
            max_text_bytes: 4 << 20,
            classifier: None,
            vault_store: None,
        }
    }
}

/// One scan's inputs.
#[derive(Debug, Clone, Copy)]
pub struct ScanRequest<'a> {
    pub text: &'a str,
    pub direction: Direction,
    /// Policy name; `default` when absent.
    pub policy: Option<&'a str>,
    /// Session for reversible `token` masking.
    pub session: Option<&'a str>,
    /// Tenant that owns the session (the API key's tenant in the daemon).
    pub tenant: &'a str,
    /// Return the masked text whatever the decision.
    pub return_masked: bool,
    /// Run the classifier (when one is loaded).
    pub classify: bool,
    /// When the scan must give up ([`ScanError::DeadlineExceeded`]); unlimited by default.
    pub budget: Budget,
    /// List every finding (no [`MAX_REPORTED_PER_RULE`] cap): for callers that mask from the
    /// report's findings themselves, such as the batch scanner's masked copies.
    pub list_all: bool,
}

impl<'a> ScanRequest<'a> {
    /// A request with defaults: default policy, no session, classifier on.
    pub fn new(text: &'a str, direction: Direction) -> ScanRequest<'a> {
        ScanRequest {
            text,
            direction,
            policy: None,
            session: None,
            tenant: "",
            return_masked: false,
            classify: true,
            budget: Budget::UNLIMITED,
            list_all: false,
        }
    }
}

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    #[error("unknown policy {0:?}")]
    UnknownPolicy(String),
    #[error("text is {len} bytes; the limit is {max}")]
    TooLarge { len: usize, max: usize },
    #[error("classifier failed: {0}")]
    Classifier(#[from] ModelError),
    /// The request's [`Budget`] ran out; the scan stopped and reports nothing (fail closed).
    #[error("the scan ran past its deadline")]
    DeadlineExceeded,
}

impl From<BudgetSpent> for ScanError {
    fn from(_: BudgetSpent) -> ScanError {
        ScanError::DeadlineExceeded
    }
}

/// The scanning engine. `Send + Sync`; share it as `Arc<Engine>`.
pub struct Engine {
    packs: ArcSwap<CompiledPacks>,
    pack_paths: Vec<PathBuf>,
    builtin: bool,
    policies: HashMap<String, Policy>,
    masker: Masker,
    vault: Arc<dyn SessionStore>,
    vault_limits: VaultLimits,
    max_text_bytes: usize,
    classifier: Option<Arc<Classifier>>,
}

impl Engine {
    /// Compile the packs and build the engine.
    pub fn new(config: EngineConfig) -> Result<Engine, PackError> {
        let packs = load_packs(config.no_builtin_packs, &config.extra_packs)?;
        let mut policies: HashMap<String, Policy> = HashMap::new();
        policies.insert("default".into(), Policy::default_policy());
        for p in config.policies {
            policies.insert(p.name.clone(), p);
        }
        let key = config.hash_key.unwrap_or_else(random_key);
        Ok(Engine {
            packs: ArcSwap::from_pointee(packs),
            pack_paths: config.extra_packs,
            builtin: !config.no_builtin_packs,
            policies,
            masker: Masker::new(key),
            vault: config.vault_store.unwrap_or_else(|| Arc::new(Vault::new(config.vault))),
            vault_limits: config.vault,
            max_text_bytes: config.max_text_bytes,
            classifier: config.classifier,
        })
    }

    /// The packs in use now.
    pub fn packs(&self) -> Arc<CompiledPacks> {
        self.packs.load_full()
    }

    /// Longest text one scan accepts, in bytes.
    pub fn max_text_bytes(&self) -> usize {
        self.max_text_bytes
    }

    /// The classifier, if loaded.
    pub fn classifier(&self) -> Option<&Arc<Classifier>> {
        self.classifier.as_ref()
    }

    /// Names of the known policies.
    pub fn policy_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.policies.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Look a policy up by name.
    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.get(name)
    }

    /// Re-read and compile the packs off to the side; swap them in only when they compile. On
    /// failure the previous packs keep serving and the diagnostics are returned.
    pub fn reload(&self) -> Result<Arc<CompiledPacks>, PackError> {
        let fresh = Arc::new(load_packs(!self.builtin, &self.pack_paths)?);
        self.packs.store(fresh.clone());
        Ok(fresh)
    }

    /// Replace placeholders minted in `session` for `tenant`. The session must be live (its TTL
    /// is refreshed); the restored text may be at most twice the text limit.
    pub fn restore(&self, tenant: &str, session: &str, text: &str) -> Result<String, VaultError> {
        self.vault.restore(tenant, session, text, self.max_text_bytes.saturating_mul(2))
    }

    /// Scan one text.
    pub fn scan(&self, req: &ScanRequest<'_>) -> Result<Report, ScanError> {
        let started = Instant::now();
        // Trace spans (src/telemetry.rs) carry sizes, counts, rule ids and the decision: never text.
        // Counts are i64: OpenTelemetry has no unsigned attributes (a u64 would become a string).
        let span = tracing::debug_span!(
            "scan",
            direction = req.direction.as_str(),
            text_bytes = req.text.len() as i64,
            findings = Empty,
            decision = Empty,
        );
        let _in_scan = span.enter();
        let policy_name = req.policy.unwrap_or("default");
        let policy = self.policies.get(policy_name).ok_or_else(|| ScanError::UnknownPolicy(policy_name.to_string()))?;
        if req.text.len() > self.max_text_bytes {
            return Err(ScanError::TooLarge { len: req.text.len(), max: self.max_text_bytes });
        }
        let packs = self.packs.load_full();
        let direction_policy = policy.direction(req.direction);

        let findings = detect_within(&packs, req.text, req.direction, req.budget)?;

        let mut rule_scores = CategoryScores::default();
        for (rule, score) in best_per_rule(&findings) {
            rule_scores.combine(packs.rule(rule).category, score);
        }
        let mut classifier = match (&self.classifier, req.classify) {
            (Some(c), true) => {
                req.budget.check()?;
                let span = tracing::debug_span!("classifier", windows = Empty, windows_total = Empty);
                let outcome = span.in_scope(|| c.classify(req.text))?;
                span.record("windows", outcome.report.windows as i64);
                span.record("windows_total", outcome.report.windows_total as i64);
                req.budget.check()?;
                Some(outcome)
            }
            _ => None,
        };
        let policy_span = tracing::debug_span!("policy", decision = Empty, blocked_by = Empty, rules = Empty);
        let in_policy = policy_span.enter();
        let mut model_scores = CategoryScores::default();
        if let Some(outcome) = &mut classifier {
            if packs.allows_whole_text(req.text) {
                outcome.report.allowlisted = true;
            } else {
                for (category, p) in &outcome.categories {
                    model_scores.combine(*category, *p);
                }
            }
        }
        let mut scores = rule_scores;
        for (i, &p) in model_scores.0.iter().enumerate() {
            scores.combine(Category::ALL[i], p);
        }

        let actionable = |f: &&Finding| f.score >= direction_policy.min_score;
        let mut blocked_by = blocking_categories(direction_policy, &scores);
        let mut rule_action_blocks = false;
        for f in findings.iter().filter(actionable) {
            let rule = packs.rule(f.rule);
            if rule.action == Action::Block {
                rule_action_blocks = true;
                if !blocked_by.contains(&rule.category) {
                    blocked_by.push(rule.category);
                }
            }
        }
        let wants_mask = findings.iter().filter(actionable).any(|f| packs.rule(f.rule).action != Action::Report);
        let fallback = if wants_mask { Decision::Mask } else { Decision::Allow };
        let (decision, would_block) = match (blocked_by.is_empty(), policy.shadow) {
            (true, _) => (fallback, false),
            (false, false) => (Decision::Block, false),
            (false, true) => (fallback, true),
        };
        let decided_by = match decision {
            Decision::Block => Some(block_decided_by(direction_policy, &rule_scores, &model_scores, rule_action_blocks)),
            Decision::Mask => Some(DecidedBy::Rules),
            Decision::Allow => None,
        };
        if !policy_span.is_disabled() {
            policy_span.record("decision", decision.as_str());
            policy_span.record("blocked_by", blocked_by.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(","));
            policy_span.record("rules", rule_ids(&packs, &findings));
        }
        drop(in_policy);

        let mask_span = tracing::debug_span!("mask", spans = Empty, masked = Empty);
        let in_mask = mask_span.enter();
        let spans = mask_spans(&packs, req.text, &findings, direction_policy.min_score);
        let coverage = Coverage::new(spans.iter().map(|s| s.span));
        let masked = (decision == Decision::Mask || req.return_masked)
            .then(|| self.write_masked(req.text, &spans, req.session.map(|s| (req.tenant, s)), &mut self.local_tokens()));
        mask_span.record("spans", spans.len() as i64);
        mask_span.record("masked", masked.is_some());
        drop(in_mask);
        span.record("findings", findings.len() as i64);
        span.record("decision", decision.as_str());

        req.budget.check()?;
        let chars = CharIndex::new(req.text);
        let mut listed: HashMap<RuleId, usize> = HashMap::new();
        let mut findings_omitted = 0;
        let findings = findings
            .iter()
            .filter(|f| {
                let n = listed.entry(f.rule).or_insert(0);
                *n += 1;
                let keep = req.list_all || *n <= MAX_REPORTED_PER_RULE;
                findings_omitted += usize::from(!keep);
                keep
            })
            .map(|f| {
                let rule = packs.rule(f.rule);
                ReportFinding {
                    rule: rule.id.clone(),
                    category: rule.category,
                    label: rule.label.clone(),
                    score: f.score,
                    start: f.span.start,
                    end: f.span.end,
                    char_start: chars.char_offset(f.span.start),
                    char_end: chars.char_offset(f.span.end),
                    action: rule.action,
                    via: f.via,
                    masked: coverage.covers(f.span),
                    value: policy.include_values.then(|| f.span.slice(req.text).to_string()),
                }
            })
            .collect();
        Ok(Report {
            decision,
            score: scores.max(),
            direction: req.direction,
            policy: policy.name.clone(),
            categories: Categories::from(&scores),
            findings,
            findings_omitted,
            masked,
            classifier: classifier.map(|c| c.report),
            would_block,
            blocked_by,
            decided_by,
            took_us: started.elapsed().as_micros() as u64,
        })
    }
}

impl Engine {
    /// Write the masked copy of `text`: the one masking path of every caller (one-shot scans and
    /// [`crate::stream`]). Reversible tokens come from the vault session `(tenant, session)`
    /// when given, else from `local` (tokens that live only as long as the caller keeps them).
    pub(crate) fn write_masked(
        &self,
        text: &str,
        spans: &[MaskSpan<'_>],
        session: Option<(&str, &str)>,
        local: &mut SessionTokens,
    ) -> String {
        let needs_vault = spans.iter().any(|s| s.op == MaskOp::Token);
        match (session, needs_vault) {
            (Some((tenant, session)), true) => {
                crate::vault::with_tokens(&*self.vault, tenant, session, |tokens| self.masker.apply(text, spans, tokens))
            }
            _ => self.masker.apply(text, spans, local),
        }
    }

    /// Fresh token storage for one text (or one stream) without a session.
    pub(crate) fn local_tokens(&self) -> SessionTokens {
        SessionTokens::new(self.vault_limits.max_entries)
    }
}

/// The spans a scan masks: every actionable finding (score at least `min_score`) of a rule that
/// masks or blocks, however many a rule has (the report may list fewer), plus every repeat of
/// a masked value.
pub(crate) fn mask_spans<'p>(packs: &'p CompiledPacks, text: &str, findings: &[Finding], min_score: f32) -> Vec<MaskSpan<'p>> {
    let mut spans: Vec<MaskSpan<'p>> = findings
        .iter()
        .filter(|f| f.score >= min_score)
        .filter(|f| packs.rule(f.rule).action != Action::Report)
        .map(|f| {
            let rule = packs.rule(f.rule);
            MaskSpan { span: f.span, op: rule.mask, label: &rule.label }
        })
        .collect();
    add_repeated_values(text, &mut spans);
    spans
}

/// The distinct rule ids of `findings`, comma-separated (at most [`TRACED_RULES`]), for traces.
fn rule_ids(packs: &CompiledPacks, findings: &[Finding]) -> String {
    let mut ids: Vec<&str> = findings.iter().map(|f| packs.rule(f.rule).id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let more = ids.len().saturating_sub(TRACED_RULES);
    ids.truncate(TRACED_RULES);
    let mut out = ids.join(",");
    if more > 0 {
        out.push_str(&format!(",+{more}"));
    }
    out
}

/// Most rule ids one trace span lists.
const TRACED_RULES: usize = 32;

/// Every finding of the rules that apply to `direction`, deduplicated and in text order.
pub fn detect(packs: &CompiledPacks, text: &str, direction: Direction) -> Vec<Finding> {
    match detect_within(packs, text, direction, Budget::UNLIMITED) {
        Ok(findings) => findings,
        Err(BudgetSpent) => unreachable!("an unlimited budget is never spent"),
    }
}

/// [`detect`] that gives up when `budget` is spent (checked between stages and inside the
/// detectors' loops).
pub fn detect_within(packs: &CompiledPacks, text: &str, direction: Direction, budget: Budget) -> Result<Vec<Finding>, BudgetSpent> {
    budget.check()?;
    let scan_text = tracing::debug_span!("normalize", text_bytes = text.len() as i64).in_scope(|| ScanText::with_budget(text, budget));
    budget.check()?;
    let mut findings = Vec::new();
    packs.detectors.run(&scan_text, &mut findings);
    budget.check()?;
    findings.retain(|f| packs.rule(f.rule).applies_to(direction));
    findings.sort_by(|a, b| (a.span.start, a.span.end, a.rule).cmp(&(b.span.start, b.span.end, b.rule)).then(b.score.total_cmp(&a.score)));
    findings.dedup_by(|a, b| a.rule == b.rule && a.span == b.span);
    // After deduplication: each distinct (rule, span) is matched against the allow list once.
    if !packs.allow.is_empty() {
        findings.retain(|f| !packs.allow.iter().any(|a| a.allows(f.rule, f.span.slice(text))));
    }
    Ok(findings)
}

/// A value found once is masked wherever it occurs: the same secret pasted again without the
/// context that made a rule fire must not survive. Values shorter than 8 bytes are left alone
/// (too likely to be ordinary words or numbers). One overlapping Aho-Corasick pass finds every
/// occurrence of every distinct value, overlapping ones included (merging then masks the union
/// with a label, so a `partial` tail next to them cannot complete the value); the cost is linear
/// in the text however often values repeat.
fn add_repeated_values(text: &str, spans: &mut Vec<MaskSpan<'_>>) {
    let mut values: Vec<&str> = Vec::new();
    let mut templates = Vec::new();
    let mut distinct = HashSet::new();
    for s in spans.iter().filter(|s| s.span.len() >= 8) {
        if distinct.insert(s.span.slice(text)) {
            values.push(s.span.slice(text));
            templates.push(*s);
        }
    }
    if values.is_empty() {
        return;
    }
    let Ok(ac) = aho_corasick::AhoCorasick::builder().match_kind(aho_corasick::MatchKind::Standard).build(&values) else { return };
    let mut known: HashSet<crate::span::Span> = spans.iter().map(|s| s.span).collect();
    for m in ac.find_overlapping_iter(text) {
        let span = crate::span::Span::new(m.start(), m.end());
        if known.insert(span) {
            spans.push(MaskSpan { span, ..templates[m.pattern().as_usize()] });
        }
    }
}

/// Most findings of one rule listed in a report; the rest are counted in `findings_omitted`
/// (they are still scored and masked). A text flooded with one pattern gains nothing from a
/// longer list.
pub const MAX_REPORTED_PER_RULE: usize = 1_000;

/// The union of the masked spans, to tell which findings the masked text keeps in clear.
struct Coverage(Vec<Span>);

impl Coverage {
    fn new(spans: impl Iterator<Item = Span>) -> Coverage {
        let mut spans: Vec<Span> = spans.filter(|s| !s.is_empty()).collect();
        spans.sort_unstable();
        let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
        for s in spans {
            match merged.last_mut() {
                Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
                _ => merged.push(s),
            }
        }
        Coverage(merged)
    }

    /// True when every byte of `span` is masked.
    fn covers(&self, span: Span) -> bool {
        let i = self.0.partition_point(|m| m.end <= span.start);
        self.0.get(i).is_some_and(|m| m.start <= span.start && span.end <= m.end)
    }
}

/// Each rule counts once toward its category: its best finding.
fn best_per_rule(findings: &[Finding]) -> Vec<(RuleId, f32)> {
    let mut best: HashMap<RuleId, f32> = HashMap::new();
    for f in findings {
        let s = best.entry(f.rule).or_insert(0.0);
        *s = s.max(f.score);
    }
    best.into_iter().collect()
}

fn load_packs(no_builtin: bool, extra: &[PathBuf]) -> Result<CompiledPacks, PackError> {
    let mut sources: Vec<PackSource> = if no_builtin { Vec::new() } else { pack::builtin_sources() };
    sources.extend(pack::read_sources(extra)?);
    pack::compile(&sources)
}

/// 32 bytes from the OS; the `hash` operator is then stable for this process only.
pub(crate) fn random_key() -> Vec<u8> {
    use std::io::Read;
    let mut key = vec![0u8; 32];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key)).is_err() {
        use std::hash::{BuildHasher, Hasher};
        for chunk in key.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn assert<T: Send + Sync>() {}
        assert::<Engine>();
        assert::<CompiledPacks>();
    }
}
