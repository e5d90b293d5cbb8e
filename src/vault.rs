//! Session-scoped placeholders for `token` masking and `/v1/restore`.
//!
//! Each (tenant, session) pair has its own map, so one caller can never restore another's
//! placeholders. The vault is bounded: sessions expire after a TTL, the least recently used
//! session is evicted beyond `max_sessions`, and a session stops minting placeholders past
//! `max_entries` (further values are masked with their label instead).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bounds on the vault.
#[derive(Debug, Clone, Copy)]
pub struct VaultLimits {
    pub max_sessions: usize,
    pub max_entries: usize,
    pub ttl: Duration,
}

impl Default for VaultLimits {
    fn default() -> Self {
        VaultLimits { max_sessions: 10_000, max_entries: 1_000, ttl: Duration::from_secs(3600) }
    }
}

/// Placeholder ↔ value maps of one session.
#[derive(Debug, Default)]
pub struct SessionTokens {
    by_value: HashMap<String, String>,
    by_token: HashMap<String, String>,
    counters: HashMap<String, u32>,
    max_entries: usize,
}

impl SessionTokens {
    /// A map that mints at most `max_entries` placeholders.
    pub fn new(max_entries: usize) -> SessionTokens {
        SessionTokens { max_entries, ..Default::default() }
    }

    /// The placeholder for `value` (`<LABEL_n>`), the same one each time; `None` when full.
    pub fn token_for(&mut self, label: &str, value: &str) -> Option<String> {
        if let Some(t) = self.by_value.get(value) {
            return Some(t.clone());
        }
        if self.by_token.len() >= self.max_entries {
            return None;
        }
        let n = self.counters.entry(label.to_string()).or_insert(0);
        *n += 1;
        let token = format!("<{label}_{n}>");
        self.by_value.insert(value.to_string(), token.clone());
        self.by_token.insert(token.clone(), value.to_string());
        Some(token)
    }

    /// Replace every known placeholder in `text` with its original value.
    pub fn restore(&self, text: &str) -> String {
        if self.by_token.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            out.push_str(&rest[..open]);
            let candidate = &rest[open..];
            match candidate.find('>').map(|close| &candidate[..=close]) {
                Some(token) if self.by_token.contains_key(token) => {
                    out.push_str(&self.by_token[token]);
                    rest = &candidate[token.len()..];
                }
                _ => {
                    out.push('<');
                    rest = &candidate[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
}

struct Entry {
    tokens: SessionTokens,
    last_used: Instant,
}

/// All sessions' placeholder maps.
pub struct Vault {
    limits: VaultLimits,
    sessions: Mutex<HashMap<(String, String), Entry>>,
}

impl Vault {
    /// An empty vault.
    pub fn new(limits: VaultLimits) -> Vault {
        Vault { limits, sessions: Mutex::new(HashMap::new()) }
    }

    /// Run `f` on the session's map, creating it if needed.
    pub fn with_session<R>(&self, tenant: &str, session: &str, f: impl FnOnce(&mut SessionTokens) -> R) -> R {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let key = (tenant.to_string(), session.to_string());
        if !sessions.contains_key(&key) {
            sessions.retain(|_, e| now.duration_since(e.last_used) < self.limits.ttl);
            if sessions.len() >= self.limits.max_sessions {
                if let Some(oldest) = sessions.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| k.clone()) {
                    sessions.remove(&oldest);
                }
            }
        }
        let entry = sessions.entry(key).or_insert_with(|| Entry { tokens: SessionTokens::new(self.limits.max_entries), last_used: now });
        entry.last_used = now;
        f(&mut entry.tokens)
    }

    /// Restore placeholders of one session; text is returned unchanged for unknown sessions.
    pub fn restore(&self, tenant: &str, session: &str, text: &str) -> String {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(&(tenant.to_string(), session.to_string())) {
            Some(e) if e.last_used.elapsed() < self.limits.ttl => e.tokens.restore(text),
            _ => text.to_string(),
        }
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_same_token_and_restore() {
        let mut s = SessionTokens::new(10);
        assert_eq!(s.token_for("EMAIL", "a@b.co").unwrap(), "<EMAIL_1>");
        assert_eq!(s.token_for("EMAIL", "c@d.co").unwrap(), "<EMAIL_2>");
        assert_eq!(s.token_for("EMAIL", "a@b.co").unwrap(), "<EMAIL_1>");
        assert_eq!(s.restore("to <EMAIL_2> and <EMAIL_1>, not <EMAIL_3> <"), "to c@d.co and a@b.co, not <EMAIL_3> <");
    }

    #[test]
    fn tenants_are_isolated_and_sessions_bounded() {
        let v = Vault::new(VaultLimits { max_sessions: 2, max_entries: 1, ttl: Duration::from_secs(60) });
        let t = v.with_session("alice", "s", |s| s.token_for("EMAIL", "a@b.co")).unwrap();
        assert_eq!(v.restore("alice", "s", &t), "a@b.co");
        assert_eq!(v.restore("bob", "s", &t), t);
        assert!(v.with_session("alice", "s", |s| s.token_for("EMAIL", "x@y.co")).is_none());
        v.with_session("a", "1", |_| ());
        v.with_session("a", "2", |_| ());
        assert_eq!(v.len(), 2);
    }
}
