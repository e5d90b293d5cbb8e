//! `[vault] backend = "nats"`: reversible-token sessions in a JetStream key-value bucket, so a
//! token minted by one daemon replica restores on any other replica on the same NATS.
//!
//! - One key per (tenant, session): `t_<hex tenant>.<first 128 bits of sha256(session)>`, so a
//!   tenant can never name another tenant's session, and session names stay out of the broker.
//! - The value is the session's placeholder map, sealed with ChaCha20-Poly1305 under a key every
//!   replica shares (`[vault] key_env`), with the bucket key as associated data: the broker, its
//!   disk and anyone reading the bucket see no detected value, and a sealed map moved to another
//!   key does not open.
//! - TTL: the bucket's `max_age` is the vault TTL; every scan that mints and every restore
//!   rewrites the entry, which restarts its age (JetStream 2.9 has no per-key TTL).
//! - Concurrent writers: compare-and-set on the entry's revision, retried.
//! - The engine is synchronous; calls run on a small runtime of the vault's own and are waited
//!   for with a timeout. When the broker does not answer, minting falls back to label masking
//!   (fail closed) and restore fails with [`VaultError::Unavailable`].

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use crate::vault::{SessionStore, SessionTokens, VaultError, VaultLimits};

use super::{chain, QueueError};

/// Tries of a compare-and-set write before giving up.
const CAS_TRIES: usize = 8;
/// Longest wait for the broker on one call.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the shared vault lives.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsVaultConfig {
    pub url: String,
    pub bucket: String,
    /// Secret shared by every replica; sessions are sealed with a key derived from it.
    pub secret: Vec<u8>,
    /// Bytes the bucket may hold (all tenants); writes past it are refused by the broker.
    pub max_bytes: i64,
}

impl std::fmt::Debug for NatsVaultConfig {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsVaultConfig").field("url", &self.url).field("bucket", &self.bucket).field("max_bytes", &self.max_bytes).finish()
    }
}

/// Sessions in a JetStream key-value bucket.
pub struct NatsVault {
    runtime: Option<tokio::runtime::Runtime>,
    store: kv::Store,
    key: LessSafeKey,
    rng: SystemRandom,
    limits: VaultLimits,
}

impl NatsVault {
    /// Connect and create the bucket when missing (TTL = `limits.ttl`).
    pub fn connect(config: &NatsVaultConfig, limits: VaultLimits) -> Result<NatsVault, QueueError> {
        if config.secret.len() < 16 {
            return Err(QueueError::JetStream("the vault secret must be at least 16 bytes".into()));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("picket-vault")
            .enable_all()
            .build()
            .map_err(QueueError::Io)?;
        let store = runtime.block_on(async {
            let client = super::connect(&config.url).await?;
            let js = jetstream::new(client);
            // The bucket's stream, made by hand with the 2.9 feature set (the client's
            // create_key_value asks for newer settings a 2.9 server answers in a shape it cannot read).
            js.get_or_create_stream(jetstream::stream::Config {
                name: format!("KV_{}", config.bucket),
                subjects: vec![format!("$KV.{}.>", config.bucket)],
                max_messages_per_subject: 1,
                max_age: limits.ttl,
                max_bytes: config.max_bytes,
                storage: jetstream::stream::StorageType::File,
                discard: jetstream::stream::DiscardPolicy::New,
                allow_rollup: true,
                deny_delete: true,
                // Direct get answered "no responders" on 2.9.10: use the stream's message API.
                allow_direct: false,
                ..Default::default()
            })
            .await
            .map_err(super::js)?;
            js.get_key_value(&config.bucket).await.map_err(super::js)
        })?;
        let digest = Sha256::new().chain_update(b"picket-vault-v1").chain_update(&config.secret).finalize();
        let key = UnboundKey::new(&CHACHA20_POLY1305, &digest).map_err(|_| QueueError::JetStream("bad vault key".into()))?;
        Ok(NatsVault { runtime: Some(runtime), store, key: LessSafeKey::new(key), rng: SystemRandom::new(), limits })
    }

    /// Run `fut` on the vault's runtime and wait for it; `None` on timeout. Works from any
    /// thread, also one that belongs to another runtime.
    fn call<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> Option<T> {
        let runtime = self.runtime.as_ref()?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv_timeout(CALL_TIMEOUT).ok()
    }

    /// The session's current map and revision (`None`: no such live session).
    fn load(&self, key: &str) -> Result<Option<(SessionTokens, u64)>, String> {
        let store = self.store.clone();
        let k = key.to_string();
        let entry = self.call(async move { store.entry(k).await }).ok_or("timed out")?.map_err(|e| chain(&e))?;
        let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else { return Ok(None) };
        let entries = self.open(key, &entry.value)?;
        Ok(Some((SessionTokens::from_entries(self.limits.max_entries, entries), entry.revision)))
    }

    /// Write the map: create when `revision` is `None`, else only over that revision.
    /// `Ok(false)`: someone else wrote first.
    fn save(&self, key: &str, tokens: &SessionTokens, revision: Option<u64>) -> Result<bool, String> {
        let sealed = self.seal(key, tokens)?;
        let store = self.store.clone();
        let k = key.to_string();
        let written = self
            .call(async move {
                match revision {
                    Some(r) => store
                        .update(k, sealed, r)
                        .await
                        .map(|_| ())
                        .map_err(|e| (e.kind() == kv::UpdateErrorKind::WrongLastRevision, chain(&e))),
                    None => {
                        store.create(k, sealed).await.map(|_| ()).map_err(|e| (e.kind() == kv::CreateErrorKind::AlreadyExists, chain(&e)))
                    }
                }
            })
            .ok_or("timed out")?;
        match written {
            Ok(()) => Ok(true),
            Err((true, _)) => Ok(false),
            Err((false, e)) => Err(e),
        }
    }

    fn seal(&self, key: &str, tokens: &SessionTokens) -> Result<Bytes, String> {
        let pairs: Vec<(&str, &str)> = tokens.entries().collect();
        let mut data = serde_json::to_vec(&pairs).map_err(|e| e.to_string())?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| "no randomness")?;
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(key.as_bytes()), &mut data)
            .map_err(|_| "sealing failed")?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(Bytes::from(out))
    }

    fn open(&self, key: &str, sealed: &[u8]) -> Result<Vec<(String, String)>, String> {
        if sealed.len() < NONCE_LEN {
            return Err("a sealed session is too short".into());
        }
        let (nonce, data) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "bad nonce")?;
        let mut data = data.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(key.as_bytes()), &mut data)
            .map_err(|_| "a sealed session does not open (another vault key, or tampered with)")?;
        serde_json::from_slice(plain).map_err(|e| e.to_string())
    }
}

/// The bucket key of a session.
fn key_of(tenant: &str, session: &str) -> String {
    format!("t_{}.{}", hex::encode(tenant), hex::encode(&Sha256::digest(session.as_bytes())[..16]))
}

impl SessionStore for NatsVault {
    fn with_tokens(&self, tenant: &str, session: &str, f: &mut dyn FnMut(&mut SessionTokens)) {
        let key = key_of(tenant, session);
        for _ in 0..CAS_TRIES {
            let (mut tokens, revision) = match self.load(&key) {
                Ok(Some((tokens, revision))) => (tokens, Some(revision)),
                Ok(None) => (SessionTokens::new(self.limits.max_entries), None),
                Err(e) => {
                    tracing::warn!(error = %e, "vault unavailable; masking with labels");
                    break;
                }
            };
            f(&mut tokens);
            match self.save(&key, &tokens, revision) {
                Ok(true) => return,
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "vault write failed; masking with labels");
                    break;
                }
            }
        }
        // Not stored: mint nothing, so no placeholder goes out that could not be restored.
        f(&mut SessionTokens::new(0));
    }

    fn restore(&self, tenant: &str, session: &str, text: &str, max_out: usize) -> Result<String, VaultError> {
        let key = key_of(tenant, session);
        let (tokens, revision) = self.load(&key).map_err(VaultError::Unavailable)?.ok_or(VaultError::SessionUnknown)?;
        let restored = tokens.restore_within(text, max_out)?;
        // Rewriting restarts the entry's age (the TTL); losing that race to a writer is fine.
        if let Err(e) = self.save(&key, &tokens, Some(revision)) {
            tracing::warn!(error = %e, "cannot refresh the session's TTL");
        }
        Ok(restored)
    }
}

impl Drop for NatsVault {
    fn drop(&mut self) {
        // Dropping a runtime blocks; the engine may be dropped inside another runtime.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_tenant_and_hide_the_session_name() {
        let a = key_of("alice", "s1");
        assert_ne!(a, key_of("bob", "s1"));
        assert!(!a.contains("s1"));
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'));
    }
}
