//! Inference threads. Each owns one `ort::Session` and reads jobs from a shared bounded
//! channel; each job carries its own reply channel. A job (one text's windows) runs on its own,
//! never batched with another request's windows: the int8 model quantizes activations per
//! tensor, so a batch neighbour would shift this text's scores (by up to 0.1 in testing). The
//! same text gets the same verdict whatever else is in flight.

use std::borrow::Cow;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use ndarray::Array2;
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;

use super::model::{InputKind, ModelConfig};
use super::windows::Window;
use super::ModelError;

type Reply = mpsc::Sender<Result<Vec<Vec<f32>>, ModelError>>;

struct Job {
    windows: Vec<Window>,
    reply: Reply,
}

/// Most windows per run.
const MAX_BATCH: usize = 16;

/// The inference threads of one model.
pub struct Pool {
    sender: Option<SyncSender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

fn session(env: &Environment, model: &Path) -> ort::Result<Session> {
    // One intra-op thread, spinning off: on two shared cores a spinning pool is ~2x slower.
    Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::Level3)?
        .with_intra_threads(1)?
        .with_inter_threads(1)?
        .with_intra_op_spinning(false)?
        .commit_from_file(model)
}

impl Pool {
    /// Start `threads` workers, each with its own session.
    pub fn start(env: &Environment, model: &Path, config: &ModelConfig, threads: usize) -> Result<Pool, ModelError> {
        let (sender, receiver) = mpsc::sync_channel::<Job>(threads * 64);
        let receiver = Arc::new(Mutex::new(receiver));
        let config = Arc::new(config.clone());
        let mut handles = Vec::new();
        for i in 0..threads {
            let mut s = session(env, model)?;
            let names: Vec<String> = s.inputs().iter().map(|o| o.name().to_string()).collect();
            for (name, _) in &config.inputs {
                if !names.contains(name) {
                    return Err(ModelError::Runtime(format!("model.toml names input {name:?}, but the graph takes {names:?}")));
                }
            }
            let (rx, cfg) = (receiver.clone(), config.clone());
            let handle = std::thread::Builder::new()
                .name(format!("picket-infer-{i}"))
                .spawn(move || work(&mut s, &cfg, &rx))
                .map_err(|e| ModelError::Runtime(format!("spawning inference thread: {e}")))?;
            handles.push(handle);
        }
        Ok(Pool { sender: Some(sender), threads: handles })
    }

    /// Score windows; blocks the calling thread until the reply comes.
    pub fn infer(&self, windows: Vec<Window>) -> Result<Vec<Vec<f32>>, ModelError> {
        let (reply, answer) = mpsc::channel();
        self.sender.as_ref().ok_or(ModelError::WorkerGone)?.send(Job { windows, reply }).map_err(|_| ModelError::WorkerGone)?;
        answer.recv().map_err(|_| ModelError::WorkerGone)?
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.sender.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn work(session: &mut Session, config: &ModelConfig, receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let rx = receiver.lock().unwrap_or_else(|p| p.into_inner());
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let windows: Vec<&Window> = job.windows.iter().collect();
        let scored: Result<Vec<Vec<f32>>, ModelError> = windows.chunks(MAX_BATCH).try_fold(Vec::new(), |mut acc, chunk| {
            acc.extend(run(session, config, chunk)?);
            Ok(acc)
        });
        let _ = job.reply.send(scored);
    }
}

/// One batch, padded to its longest window; returns softmax probabilities per window.
fn run(session: &mut Session, config: &ModelConfig, windows: &[&Window]) -> Result<Vec<Vec<f32>>, ModelError> {
    let n = windows.len();
    let len = windows.iter().map(|w| w.ids.len()).max().unwrap_or(1).max(1);
    let mut ids = Array2::<i64>::from_elem((n, len), i64::from(config.pad_id));
    let mut mask = Array2::<i64>::zeros((n, len));
    let types = Array2::<i64>::zeros((n, len));
    for (row, w) in windows.iter().enumerate() {
        for (col, id) in w.ids.iter().enumerate() {
            ids[[row, col]] = *id;
            mask[[row, col]] = 1;
        }
    }
    let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::new();
    for (name, kind) in &config.inputs {
        let array = match kind {
            InputKind::Ids => &ids,
            InputKind::AttentionMask => &mask,
            InputKind::TokenTypes => &types,
        };
        inputs.push((Cow::Borrowed(name.as_str()), TensorRef::from_array_view(array)?.into()));
    }
    let outputs = session.run(inputs)?;
    let value = outputs.get(&config.output).ok_or_else(|| ModelError::Runtime(format!("the graph has no output {:?}", config.output)))?;
    let (shape, logits) = value.try_extract_tensor::<f32>()?;
    let labels = config.labels.len();
    if shape.len() != 2 || shape[0] as usize != n || shape[1] as usize != labels {
        return Err(ModelError::Runtime(format!("output {:?} has shape {:?}; expected [{n}, {labels}]", config.output, &shape[..])));
    }
    Ok(logits.chunks(labels).map(softmax).collect())
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}
