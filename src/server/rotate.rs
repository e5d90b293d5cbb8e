//! Credential rotation without a restart (issue 15): the TLS certificate, its key, the client
//! CA bundle and the JWKS are re-read when their contents change.
//!
//! Every `identity.reload_every` the files are hashed (SHA-256 of their bytes, so a Kubernetes
//! secret's symlink swap, a same-second rewrite or a copy with an old mtime are all seen). A
//! changed set is rebuilt off to the side and swapped in atomically: new connections and new
//! requests get it, open connections keep the config they were accepted with, and nothing is
//! refused in between. A rebuild that fails (a half-written file, a key that does not match the
//! certificate yet) keeps the previous credentials serving and is retried on the next tick, so a
//! rotation that writes the files one after the other converges once all are written.

use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::jwt::JwtVerifier;
use super::{tls, AppState};
use crate::config::{JwtConfig, TlsConfig};

/// SHA-256 of each file's bytes (None for a file that cannot be read).
fn fingerprint(paths: &[PathBuf]) -> Vec<Option<[u8; 32]>> {
    paths.iter().map(|p| std::fs::read(p).ok().map(|b| Sha256::digest(&b).into())).collect()
}

/// One watched set of files and how to rebuild from them.
struct Watched {
    what: &'static str,
    paths: Vec<PathBuf>,
    /// The fingerprint of what is serving now.
    applied: Vec<Option<[u8; 32]>>,
    /// The fingerprint whose rebuild last failed (logged once, retried every tick).
    failed: Option<Vec<Option<[u8; 32]>>>,
}

impl Watched {
    fn new(what: &'static str, paths: Vec<PathBuf>) -> Watched {
        let applied = fingerprint(&paths);
        Watched { what, paths, applied, failed: None }
    }

    /// Rebuild with `apply` when the files changed; true when new credentials went live.
    fn check(&mut self, apply: impl FnOnce() -> Result<(), String>) -> bool {
        let now = fingerprint(&self.paths);
        if now == self.applied {
            return false;
        }
        match apply() {
            Ok(()) => {
                tracing::info!(credentials = self.what, "credentials reloaded");
                self.applied = now;
                self.failed = None;
                true
            }
            Err(error) => {
                if self.failed.as_ref() != Some(&now) {
                    tracing::warn!(credentials = self.what, %error, "credential reload failed; the previous credentials keep serving");
                    self.failed = Some(now);
                }
                false
            }
        }
    }
}

/// Watch the TLS files and the JWKS of `state` until the task is dropped.
pub(crate) async fn watch(state: AppState, tls: Option<(TlsConfig, bool)>, jwt: Option<JwtConfig>, every: Duration) {
    let mut tls_files = tls.as_ref().map(|(t, _)| {
        let mut paths = vec![t.cert.clone(), t.key.clone()];
        paths.extend(t.client_ca.clone());
        Watched::new("tls", paths)
    });
    let mut jwks_file = jwt.as_ref().map(|j| Watched::new("jwks", vec![j.jwks.clone()]));
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let s = state.clone();
        let (tls_cfg, jwt_cfg) = (tls.clone(), jwt.clone());
        let (t, j) = (tls_files.take(), jwks_file.take());
        let Ok((t, j, reloaded)) = tokio::task::spawn_blocking(move || {
            let mut reloaded = 0u64;
            let mut t = t;
            let mut j = j;
            if let (Some(w), Some((cfg, optional)), Some(shared)) = (t.as_mut(), &tls_cfg, s.0.tls.as_ref()) {
                if w.check(|| {
                    let c = tls::server_config_with(cfg, *optional).map_err(|e| e.to_string())?;
                    shared.store(c);
                    Ok(())
                }) {
                    reloaded += 1;
                }
            }
            if let (Some(w), Some(cfg), Some(shared)) = (j.as_mut(), &jwt_cfg, s.auth().jwt()) {
                if w.check(|| {
                    let v = JwtVerifier::load(cfg).map_err(|e| e.to_string())?;
                    shared.store(std::sync::Arc::new(v));
                    Ok(())
                }) {
                    reloaded += 1;
                }
            }
            (t, j, reloaded)
        })
        .await
        else {
            return;
        };
        tls_files = t;
        jwks_file = j;
        if reloaded > 0 {
            state.0.credential_reloads.fetch_add(reloaded, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
