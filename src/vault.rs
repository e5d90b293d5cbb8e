//! Session-scoped placeholders for `token` masking and `/v1/restore`.
//!
//! Each (tenant, session) pair has its own map, so one caller can never restore another's
//! placeholders. Bounds, all per tenant so that one tenant can never evict or starve another:
//!
//! * at most `max_sessions` live sessions; a new one evicts the tenant's least recently used;
//! * at most `max_bytes` of stored values and placeholders; past it (or past `max_entries` in a
//!   session) further values are masked with their label instead (still masked: fail closed);
//! * sessions expire `ttl` after their last use; a scan or a restore refreshes it.
//!
//! Locking: a short global lock finds the tenant, a tenant lock finds the session, and only the
//! session's own lock is held while masking or restoring, so a large restore by one tenant never
//! delays another tenant's scans. Restoring is linear in the text.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Bounds on the vault.
#[derive(Debug, Clone, Copy)]
pub struct VaultLimits {
    /// Live sessions per tenant.
    pub max_sessions: usize,
    /// Placeholders per session.
    pub max_entries: usize,
    /// Bytes of values and placeholders stored per tenant.
    pub max_bytes: usize,
    /// Idle time after which a session is forgotten.
    pub ttl: Duration,
}

impl Default for VaultLimits {
    fn default() -> Self {
        VaultLimits { max_sessions: 10_000, max_entries: 1_000, max_bytes: 64 << 20, ttl: Duration::from_secs(3600) }
    }
}

/// Why a restore failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No live session of that name for this tenant (never created, expired or evicted).
    #[error("no such session (it never existed, expired or was evicted)")]
    SessionUnknown,
    /// The restored text would exceed the limit.
    #[error("the restored text would exceed {max} bytes")]
    TooLarge { max: usize },
    /// A shared vault's store did not answer (restoring never guesses).
    #[error("the session store is unavailable: {0}")]
    Unavailable(String),
}

/// Where session placeholders live: this process ([`Vault`], the default) or a store shared by
/// daemon replicas ([`crate::nats::vault::NatsVault`]), so that a token minted by one replica
/// restores on another. The engine only talks to this trait.
pub trait SessionStore: Send + Sync {
    /// Run `f` on the session's map, creating the session when needed, and keep what `f`
    /// added. `f` may run more than once (a shared store retries on a concurrent write); a store
    /// that cannot reach its session runs `f` on a map that mints nothing, so values are
    /// masked with their label instead (fail closed).
    fn with_tokens(&self, tenant: &str, session: &str, f: &mut dyn FnMut(&mut SessionTokens));

    /// Restore placeholders of one live session (and refresh its TTL).
    fn restore(&self, tenant: &str, session: &str, text: &str, max_out: usize) -> Result<String, VaultError>;
}

/// [`SessionStore::with_tokens`] with a result.
pub fn with_tokens<R>(store: &dyn SessionStore, tenant: &str, session: &str, mut f: impl FnMut(&mut SessionTokens) -> R) -> R {
    let mut out = None;
    store.with_tokens(tenant, session, &mut |tokens| out = Some(f(tokens)));
    match out {
        Some(r) => r,
        None => f(&mut SessionTokens::new(0)),
    }
}

impl SessionStore for Vault {
    fn with_tokens(&self, tenant: &str, session: &str, f: &mut dyn FnMut(&mut SessionTokens)) {
        self.with_session(tenant, session, f)
    }

    fn restore(&self, tenant: &str, session: &str, text: &str, max_out: usize) -> Result<String, VaultError> {
        Vault::restore(self, tenant, session, text, max_out)
    }
}

/// Fixed cost charged per stored entry on top of its bytes (map slots, string headers).
const ENTRY_OVERHEAD: usize = 96;

/// Placeholder ↔ value maps of one session.
#[derive(Debug)]
pub struct SessionTokens {
    by_value: HashMap<String, String>,
    by_token: HashMap<String, String>,
    counters: HashMap<String, u32>,
    max_entries: usize,
    /// Longest placeholder minted, in bytes: restore never looks further for a `>`.
    max_token_len: usize,
    /// Bytes this map holds (see [`ENTRY_OVERHEAD`]).
    bytes: usize,
    /// The tenant's byte budget, shared by its sessions; `None` for a throwaway map.
    budget: Option<(Arc<AtomicUsize>, usize)>,
}

impl SessionTokens {
    /// A map that mints at most `max_entries` placeholders.
    pub fn new(max_entries: usize) -> SessionTokens {
        SessionTokens::build(max_entries, None)
    }

    fn build(max_entries: usize, budget: Option<(Arc<AtomicUsize>, usize)>) -> SessionTokens {
        SessionTokens {
            by_value: HashMap::new(),
            by_token: HashMap::new(),
            counters: HashMap::new(),
            max_entries,
            max_token_len: 0,
            bytes: 0,
            budget,
        }
    }

    /// The placeholder for `value` (`<LABEL_n>`), the same one each time; `None` when full.
    pub fn token_for(&mut self, label: &str, value: &str) -> Option<String> {
        if let Some(t) = self.by_value.get(value) {
            return Some(t.clone());
        }
        if self.by_token.len() >= self.max_entries {
            return None;
        }
        let n = self.counters.get(label).copied().unwrap_or(0) + 1;
        let token = format!("<{label}_{n}>");
        let cost = 2 * (value.len() + token.len()) + ENTRY_OVERHEAD;
        if let Some((used, max)) = &self.budget {
            let reserved = used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| u.checked_add(cost).filter(|t| t <= max));
            if reserved.is_err() {
                return None;
            }
        }
        self.bytes += cost;
        self.counters.insert(label.to_string(), n);
        self.max_token_len = self.max_token_len.max(token.len());
        self.by_value.insert(value.to_string(), token.clone());
        self.by_token.insert(token.clone(), value.to_string());
        Some(token)
    }

    /// Placeholders minted so far.
    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    /// True when nothing was minted.
    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }

    /// Every (placeholder, value) pair, to store the map elsewhere.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_token.iter().map(|(t, v)| (t.as_str(), v.as_str()))
    }

    /// A map holding `entries` (as [`entries`](Self::entries) gave them), minting at most
    /// `max_entries` in all. Counters continue after the highest `<LABEL_n>` seen.
    pub fn from_entries(max_entries: usize, entries: impl IntoIterator<Item = (String, String)>) -> SessionTokens {
        let mut s = SessionTokens::new(max_entries);
        for (token, value) in entries {
            if let Some((label, n)) = token.strip_prefix('<').and_then(|t| t.strip_suffix('>')).and_then(|t| t.rsplit_once('_')) {
                if let Ok(n) = n.parse::<u32>() {
                    let c = s.counters.entry(label.to_string()).or_insert(0);
                    *c = (*c).max(n);
                }
            }
            s.max_token_len = s.max_token_len.max(token.len());
            s.bytes += 2 * (value.len() + token.len()) + ENTRY_OVERHEAD;
            s.by_value.insert(value.clone(), token.clone());
            s.by_token.insert(token, value);
        }
        s
    }

    /// Replace every known placeholder in `text` with its original value.
    pub fn restore(&self, text: &str) -> String {
        self.restore_within(text, usize::MAX).unwrap_or_default()
    }

    /// [`restore`](Self::restore), refusing to build more than `max_out` bytes. Linear: after
    /// each `<` it looks at most one placeholder's length ahead for the `>`.
    pub fn restore_within(&self, text: &str, max_out: usize) -> Result<String, VaultError> {
        if self.by_token.is_empty() {
            return if text.len() <= max_out { Ok(text.to_string()) } else { Err(VaultError::TooLarge { max: max_out }) };
        }
        let mut out = String::with_capacity(text.len().min(max_out));
        let bytes = text.as_bytes();
        let mut copied = 0;
        let mut pos = 0;
        while let Some(offset) = bytes[pos..].iter().position(|&b| b == b'<') {
            let open = pos + offset;
            let window = &bytes[open + 1..bytes.len().min(open + self.max_token_len).max(open + 1)];
            let close = window.iter().position(|&b| b == b'>' || b == b'<').filter(|&i| window[i] == b'>');
            // A `<` and `>` are ASCII, so both ends are char boundaries.
            let value = close.and_then(|i| self.by_token.get(&text[open..open + i + 2]));
            match (value, close) {
                (Some(value), Some(i)) => {
                    if out.len() + (open - copied) + value.len() > max_out {
                        return Err(VaultError::TooLarge { max: max_out });
                    }
                    out.push_str(&text[copied..open]);
                    out.push_str(value);
                    pos = open + i + 2;
                    copied = pos;
                }
                _ => pos = open + 1,
            }
        }
        if out.len() + (text.len() - copied) > max_out {
            return Err(VaultError::TooLarge { max: max_out });
        }
        out.push_str(&text[copied..]);
        Ok(out)
    }
}

impl Drop for SessionTokens {
    fn drop(&mut self) {
        if let Some((used, _)) = &self.budget {
            used.fetch_sub(self.bytes, Ordering::AcqRel);
        }
    }
}

struct Session {
    tokens: Mutex<SessionTokens>,
    /// Last use, as nanoseconds since the vault's epoch (lock-free refresh).
    last_used: AtomicUsize,
}

/// One tenant's sessions and byte budget.
struct Tenant {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    bytes: Arc<AtomicUsize>,
}

/// All sessions' placeholder maps.
pub struct Vault {
    limits: VaultLimits,
    epoch: Instant,
    tenants: Mutex<HashMap<String, Arc<Tenant>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Vault {
    /// An empty vault.
    pub fn new(limits: VaultLimits) -> Vault {
        Vault { limits, epoch: Instant::now(), tenants: Mutex::new(HashMap::new()) }
    }

    fn now(&self) -> usize {
        usize::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(usize::MAX)
    }

    fn expired(&self, session: &Session, now: usize) -> bool {
        let idle = now.saturating_sub(session.last_used.load(Ordering::Acquire));
        Duration::from_nanos(idle as u64) >= self.limits.ttl
    }

    /// The tenant's record (the global lock is held only for this lookup).
    fn tenant(&self, tenant: &str, create: bool) -> Option<Arc<Tenant>> {
        let mut tenants = lock(&self.tenants);
        if let Some(t) = tenants.get(tenant) {
            return Some(t.clone());
        }
        create.then(|| {
            let t = Arc::new(Tenant { sessions: Mutex::new(HashMap::new()), bytes: Arc::new(AtomicUsize::new(0)) });
            tenants.insert(tenant.to_string(), t.clone());
            t
        })
    }

    /// The live session, created (within the tenant's quota) when `create` is set.
    fn session(&self, tenant: &str, session: &str, create: bool) -> Option<Arc<Session>> {
        let t = self.tenant(tenant, create)?;
        let now = self.now();
        let mut sessions = lock(&t.sessions);
        if let Some(s) = sessions.get(session) {
            if !self.expired(s, now) {
                s.last_used.store(now, Ordering::Release);
                return Some(s.clone());
            }
            sessions.remove(session);
        }
        if !create {
            return None;
        }
        if sessions.len() >= self.limits.max_sessions.max(1) {
            sessions.retain(|_, s| !self.expired(s, now));
        }
        while sessions.len() >= self.limits.max_sessions.max(1) {
            let oldest = sessions.iter().min_by_key(|(_, s)| s.last_used.load(Ordering::Acquire)).map(|(k, _)| k.clone());
            match oldest {
                Some(k) => sessions.remove(&k),
                None => break,
            };
        }
        let s = Arc::new(Session {
            tokens: Mutex::new(SessionTokens::build(self.limits.max_entries, Some((t.bytes.clone(), self.limits.max_bytes)))),
            last_used: AtomicUsize::new(now),
        });
        sessions.insert(session.to_string(), s.clone());
        Some(s)
    }

    /// Run `f` on the session's map, creating it if needed. Only this session is locked.
    pub fn with_session<R>(&self, tenant: &str, session: &str, f: impl FnOnce(&mut SessionTokens) -> R) -> R {
        match self.session(tenant, session, true) {
            Some(s) => f(&mut lock(&s.tokens)),
            None => f(&mut SessionTokens::new(0)),
        }
    }

    /// Restore placeholders of one live session (and refresh its TTL). Unknown, expired and
    /// evicted sessions are an error, so a caller never mistakes placeholders for restored text.
    pub fn restore(&self, tenant: &str, session: &str, text: &str, max_out: usize) -> Result<String, VaultError> {
        let s = self.session(tenant, session, false).ok_or(VaultError::SessionUnknown)?;
        let tokens = lock(&s.tokens);
        tokens.restore_within(text, max_out)
    }

    /// Number of live sessions, all tenants.
    pub fn len(&self) -> usize {
        let tenants: Vec<Arc<Tenant>> = lock(&self.tenants).values().cloned().collect();
        let now = self.now();
        tenants.iter().map(|t| lock(&t.sessions).values().filter(|s| !self.expired(s, now)).count()).sum()
    }

    /// True when no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held for `tenant`'s sessions.
    pub fn tenant_bytes(&self, tenant: &str) -> usize {
        self.tenant(tenant, false).map_or(0, |t| t.bytes.load(Ordering::Acquire))
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
        assert_eq!(s.restore("<<EMAIL_1>> <EMAIL_1"), "<a@b.co> <EMAIL_1");
        assert_eq!(s.restore_within("<EMAIL_1><EMAIL_1>", 11), Err(VaultError::TooLarge { max: 11 }));
        assert_eq!(s.restore_within("<EMAIL_1><EMAIL_1>", 12).unwrap(), "a@b.coa@b.co");
    }

    #[test]
    fn tenants_are_isolated_and_sessions_bounded() {
        let v = Vault::new(VaultLimits { max_sessions: 2, max_entries: 1, ttl: Duration::from_secs(60), ..VaultLimits::default() });
        let t = v.with_session("alice", "s", |s| s.token_for("EMAIL", "a@b.co")).unwrap();
        assert_eq!(v.restore("alice", "s", &t, 1 << 20).unwrap(), "a@b.co");
        assert_eq!(v.restore("bob", "s", &t, 1 << 20), Err(VaultError::SessionUnknown));
        assert!(v.with_session("alice", "s", |s| s.token_for("EMAIL", "x@y.co")).is_none());
        // Bob filling his quota evicts only his own sessions.
        for i in 0..5 {
            v.with_session("bob", &i.to_string(), |s| s.token_for("EMAIL", "b@b.co"));
        }
        assert_eq!(v.len(), 3);
        assert_eq!(v.restore("alice", "s", &t, 1 << 20).unwrap(), "a@b.co");
        assert_eq!(v.restore("bob", "0", "<EMAIL_1>", 1 << 20), Err(VaultError::SessionUnknown));
        assert_eq!(v.restore("bob", "4", "<EMAIL_1>", 1 << 20).unwrap(), "b@b.co");
    }

    #[test]
    fn bytes_are_bounded_per_tenant_and_released() {
        let v = Vault::new(VaultLimits { max_bytes: 1_000, max_entries: 1_000, ..VaultLimits::default() });
        let minted = v.with_session("a", "s", |s| (0..100).filter_map(|i| s.token_for("V", &format!("value-{i}"))).count());
        assert!(minted > 0 && minted < 10, "{minted}");
        assert!(v.tenant_bytes("a") <= 1_000);
        // Another tenant has its own budget.
        assert!(v.with_session("b", "s", |s| s.token_for("V", "x")).is_some());
        // Evicting the session gives its bytes back.
        let v = Vault::new(VaultLimits { max_sessions: 1, ..VaultLimits::default() });
        v.with_session("a", "1", |s| s.token_for("V", "value"));
        let one = v.tenant_bytes("a");
        v.with_session("a", "2", |s| s.token_for("V", "value"));
        assert_eq!(v.tenant_bytes("a"), one);
    }

    #[test]
    fn restore_refreshes_the_ttl_and_expired_sessions_are_unknown() {
        let v = Vault::new(VaultLimits { ttl: Duration::from_millis(300), ..VaultLimits::default() });
        let t = v.with_session("a", "s", |s| s.token_for("V", "value")).unwrap();
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(120));
            assert_eq!(v.restore("a", "s", &t, 1 << 20).unwrap(), "value", "a restore keeps the session alive");
        }
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(v.restore("a", "s", &t, 1 << 20), Err(VaultError::SessionUnknown));
    }

    /// Issue 10: restore was quadratic (each `<` searched the rest of the text for `>`).
    #[test]
    fn restore_is_linear() {
        let mut s = SessionTokens::new(10);
        s.token_for("EMAIL", "a@b.co");
        let text = "<".repeat(4 << 20);
        let started = Instant::now();
        assert_eq!(s.restore(&text).len(), text.len());
        let text = "<EMAIL_1".repeat(1 << 19);
        assert_eq!(s.restore(&text), text);
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    }
}
