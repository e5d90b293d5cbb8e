//! `picket doctor`: check, one by one, what `picket serve` needs — the config, the packs, the
//! ONNX Runtime library, the model, the listen address — and say where each was found. Exit 0
//! when every check passes, 1 when one fails (each failure says what to do).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use picket::classify::{self, Classifier, ClassifierOptions};
use picket::config::Config;
use picket::pack;

use super::style::{self, TextOrJson};
use super::EngineArgs;

#[derive(clap::Args)]
pub struct DoctorArgs {
    /// Check binding this address instead of `server.listen`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// A table (text) or JSON.
    #[arg(long, value_enum, default_value = "text")]
    format: TextOrJson,
    #[command(flatten)]
    engine: EngineArgs,
}

/// One check's outcome.
#[derive(Serialize)]
struct Check {
    name: &'static str,
    /// `ok`, `fail`, or `skip` (not needed with these settings).
    status: &'static str,
    detail: String,
}

fn ok(name: &'static str, detail: String) -> Check {
    Check { name, status: "ok", detail }
}

fn fail(name: &'static str, detail: String) -> Check {
    Check { name, status: "fail", detail }
}

pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let mut checks = Vec::new();
    let config = match args.engine.load_config() {
        Ok(c) => {
            let source =
                args.engine.config.as_ref().map_or("no config file: the built-in defaults".to_string(), |p| p.display().to_string());
            checks.push(ok("config", source));
            Some(c)
        }
        Err(e) => {
            checks.push(fail("config", style::error_chain(&e)));
            None
        }
    };
    let config = config.unwrap_or_default();
    checks.push(packs(&config, &args.engine.rules));
    let classifier_wanted = config.model_enabled && !args.engine.no_classifier;
    checks.extend(classifier(&config, &args.engine, classifier_wanted));
    checks.push(bind(args.listen.unwrap_or(config.listen), !config.api_keys.is_empty()));

    let failed = checks.iter().filter(|c| c.status == "fail").count();
    match args.format {
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&serde_json::json!({"ok": failed == 0, "checks": checks}))?),
        TextOrJson::Text => {
            let color = style::color_stdout();
            for c in &checks {
                let status = match c.status {
                    "ok" => style::paint(color, "32", "ok  "),
                    "fail" => style::paint(color, "1;31", "FAIL"),
                    _ => style::paint(color, "2", "skip"),
                };
                println!("{status} {:<8} {}", c.name, c.detail);
            }
            println!("{}", if failed == 0 { "all checks passed".to_string() } else { format!("{failed} check(s) failed") });
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The shipped packs (unless `packs.builtin = false`) and the configured folders compile.
fn packs(config: &Config, extra: &[PathBuf]) -> Check {
    let mut dirs = config.pack_dirs.clone();
    dirs.extend(extra.iter().cloned());
    let result = pack::read_sources(&dirs).and_then(|mut sources| {
        if config.builtin_packs {
            let mut all = pack::builtin_sources();
            all.append(&mut sources);
            sources = all;
        }
        pack::compile(&sources)
    });
    match result {
        Ok(c) => {
            let from = if dirs.is_empty() { "built in".to_string() } else { format!("built in + {}", display(&dirs)) };
            ok("packs", format!("{} pack(s), {} rule(s), {} warning(s) ({from})", c.packs.len(), c.rules.len(), c.warnings.len()))
        }
        Err(pack::PackError::Invalid(diags)) => {
            let first = diags.first().map_or(String::new(), |d| format!(": {d}"));
            fail("packs", format!("{} problem(s){first} (run `picket rules check` for all)", diags.len()))
        }
        Err(e) => fail("packs", e.to_string()),
    }
}

/// The runtime library is found and the model loads (and answers one text).
fn classifier(config: &Config, engine: &EngineArgs, wanted: bool) -> Vec<Check> {
    if !wanted {
        let why = if engine.no_classifier { "--no-classifier" } else { "model.enabled = false" };
        return vec![
            Check { name: "runtime", status: "skip", detail: format!("classifier off ({why})") },
            Check { name: "model", status: "skip", detail: format!("classifier off ({why})") },
        ];
    }
    let runtime = match classify::find_runtime(config.ort_dylib.as_deref()) {
        Ok(path) => ok("runtime", path.display().to_string()),
        Err(e) => return vec![fail("runtime", e.to_string()), Check { name: "model", status: "skip", detail: "no runtime".into() }],
    };
    let options = ClassifierOptions {
        model_dir: engine.model.clone().or_else(|| config.model_dir.clone()),
        ort_dylib: config.ort_dylib.clone(),
        threads: 1,
        max_windows: config.model_max_windows,
    };
    let dir = options.model_dir.clone().unwrap_or_else(classify::default_model_dir);
    let model = match Classifier::load(&options).and_then(|c| c.classify("doctor check").map(|_| c)) {
        Ok(c) => ok("model", format!("{} loaded from {}", c.config().id, dir.display())),
        Err(e) => fail("model", format!("{e} (model directory {})", dir.display())),
    };
    vec![runtime, model]
}

/// The address may be used (loopback, or API keys configured) and can be bound now.
fn bind(addr: SocketAddr, keys: bool) -> Check {
    if let Err(e) = picket::server::check_exposure(addr, keys) {
        return fail("listen", e.to_string());
    }
    match std::net::TcpListener::bind(addr) {
        Ok(_) => ok("listen", format!("{addr} is allowed{} and free", if keys { " (API keys configured)" } else { " (loopback)" })),
        Err(e) => fail("listen", format!("cannot bind {addr}: {e} (in use, or not an address of this machine?)")),
    }
}

fn display(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}
