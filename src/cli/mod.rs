//! Command-line surface (clap derive). Each subcommand turns its flags into library options,
//! calls the library, prints, and picks the exit status.

mod doctor;
mod eval;
mod explain;
mod queue;
mod rules;
mod scan;
mod serve;
mod style;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::sync::Arc;

use picket::classify::{Classifier, ClassifierOptions};

use picket::config::Config;
use picket::{Engine, EngineConfig};

/// Content-security scanner for text crossing the LLM boundary.
#[derive(Parser)]
#[command(name = "picket", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour in terminal output: auto (a terminal, and no NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, default_value = "auto", value_name = "WHEN")]
    color: style::ColorChoice,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP daemon (see docs/http-api.md).
    Serve(serve::ServeArgs),
    /// Scan one text, JSON Lines, or stdin; print one JSON report per text.
    Scan(Box<scan::ScanArgs>),
    /// Lint, test and list rule packs.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Precision / recall of packs and classifier on labelled data.
    Eval(Box<eval::EvalArgs>),
    /// Why a text scored what it did.
    Explain(Box<explain::ExplainArgs>),
    /// Check what `serve` needs: config, packs, ONNX Runtime, model, listen address.
    Doctor(Box<doctor::DoctorArgs>),
    /// Scan jobs from a NATS JetStream queue (see docs/scale-out.md).
    Worker(Box<queue::WorkerArgs>),
    /// Read back the results of a corpus submitted with `picket scan PATH --submit`.
    Results(Box<queue::ResultsArgs>),
    /// List or replay dead-lettered jobs.
    #[command(subcommand)]
    Dlq(queue::DlqCommand),
}

/// Flags shared by every command that builds an engine.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct EngineArgs {
    /// Configuration file (policies, packs, model); see docs/configuration.md.
    #[arg(long, global = true, env = "PICKET_CONFIG")]
    pub config: Option<PathBuf>,
    /// Extra rule pack file or folder (repeatable), loaded after the shipped packs.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Run rules only, without the intent classifier.
    #[arg(long, global = true)]
    pub no_classifier: bool,
    /// Classifier model directory (model.onnx, tokenizer.json, model.toml); default: the shipped
    /// models/picket-intent.
    #[arg(long, value_name = "DIR", global = true)]
    pub model: Option<PathBuf>,
}

impl EngineArgs {
    /// The config file's settings, or the defaults.
    pub fn load_config(&self) -> anyhow::Result<Config> {
        match &self.config {
            Some(path) => Ok(Config::load(path)?),
            None => Ok(Config::default()),
        }
    }

    /// Build the engine from the config file and flags.
    pub fn engine(&self) -> anyhow::Result<Engine> {
        let config = self.load_config()?;
        let mut extra = config.pack_dirs.clone();
        extra.extend(self.rules.iter().cloned());
        let classifier = if self.no_classifier || !config.model_enabled {
            None
        } else {
            let options = ClassifierOptions {
                model_dir: self.model.clone().or_else(|| config.model_dir.clone()),
                ort_dylib: config.ort_dylib.clone(),
                threads: config.model_threads,
                max_windows: config.model_max_windows,
            };
            Some(Arc::new(Classifier::load(&options).context("loading the intent classifier")?))
        };
        let engine = Engine::new(EngineConfig {
            extra_packs: extra,
            no_builtin_packs: !config.builtin_packs,
            policies: config.policies.clone(),
            hash_key: config.hash_key.clone(),
            vault: config.vault,
            max_text_bytes: config.limits.max_text_bytes,
            classifier,
            vault_store: match &config.vault_backend {
                picket::config::VaultBackend::Memory => None,
                picket::config::VaultBackend::Nats(nats) => {
                    let vault = picket::nats::vault::NatsVault::connect(nats, config.vault).context("connecting the shared vault")?;
                    Some(Arc::new(vault) as Arc<dyn picket::vault::SessionStore>)
                }
            },
        })?;
        Ok(engine)
    }
}

/// Parse arguments and run; errors print their whole chain and exit 2.
pub fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    style::set_color(cli.color);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Scan(args) => scan::run(*args),
        Command::Rules(cmd) => rules::run(cmd),
        Command::Eval(args) => eval::run(*args),
        Command::Explain(args) => explain::run(*args),
        Command::Doctor(args) => doctor::run(*args),
        Command::Worker(args) => queue::worker(*args),
        Command::Results(args) => queue::results(*args),
        Command::Dlq(cmd) => queue::dlq(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("picket: error: {}", style::error_chain(&e));
            ExitCode::from(2)
        }
    }
}

/// `picket eval ... | head` closes stdout early; `println!` then panics. Exit quietly instead,
/// as a Unix filter would on SIGPIPE; every other panic keeps the default report.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>().map(String::as_str).unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
