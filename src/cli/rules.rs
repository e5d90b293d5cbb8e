//! `picket rules check|test|list`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::style::TextOrJson;
use picket::pack::{self, examples, CompiledPacks, PackError, PackSource, RuleKind, Severity};

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Lint packs: every error and warning with file, line and rule id.
    Check {
        /// Pack files or folders (default: the shipped packs). The shipped packs are always
        /// loaded too, so overrides of shipped rules resolve.
        packs: Vec<PathBuf>,
        /// Fail on warnings too.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Run every rule's embedded match / no_match examples.
    Test { packs: Vec<PathBuf> },
    /// List rules: id, category, kind, score, action, directions.
    List {
        packs: Vec<PathBuf>,
        /// A table (text) or JSON.
        #[arg(long, value_enum, default_value = "text")]
        format: TextOrJson,
        /// Same as `--format json` (kept for scripts written before `--format`).
        #[arg(long, hide = true, conflicts_with = "format")]
        json: bool,
    },
}

fn compile(paths: &[PathBuf]) -> Result<(CompiledPacks, Vec<String>), PackError> {
    let extra: Vec<PackSource> = pack::read_sources(paths)?;
    let names = extra.iter().map(|s| s.name.clone()).collect();
    let mut sources = pack::builtin_sources();
    sources.extend(extra);
    Ok((pack::compile(&sources)?, names))
}

pub fn run(cmd: RulesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCommand::Check { packs, deny_warnings } => match compile(&packs) {
            Err(PackError::Invalid(diags)) => {
                for d in &diags {
                    eprintln!("{d}");
                }
                let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
                eprintln!("{errors} error(s), {} warning(s)", diags.len() - errors);
                Ok(ExitCode::from(1))
            }
            Err(e) => Err(e.into()),
            Ok((compiled, _)) => {
                for d in &compiled.warnings {
                    eprintln!("{d}");
                }
                println!("ok: {} pack(s), {} rule(s), {} warning(s)", compiled.packs.len(), compiled.rules.len(), compiled.warnings.len());
                Ok(if deny_warnings && !compiled.warnings.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
            }
        },
        RulesCommand::Test { packs } => {
            let (compiled, names) = compile(&packs)?;
            let only: Vec<String> = if names.is_empty() {
                Vec::new()
            } else {
                compiled.packs.iter().filter(|p| names.contains(&p.source)).map(|p| p.id.clone()).collect()
            };
            let summary = examples::check(&compiled, &only);
            for f in &summary.failures {
                println!("FAIL {} ({}): expected {} for {:?}; matched {:?}", f.rule, f.location, f.expected, f.example, f.matched);
            }
            let engine = picket::Engine::new(picket::EngineConfig { extra_packs: packs.clone(), ..Default::default() })?;
            let (cases, case_failures) = examples::check_cases(&engine, &names);
            for f in &case_failures {
                println!("FAIL {} ({}): {:?}: {}", f.rule, f.location, f.example, f.matched.join("; "));
            }
            let failed = summary.failures.len() + case_failures.len();
            let total = summary.examples + cases;
            println!("{} rules, {} examples, {cases} cases: {} passed, {failed} failed", summary.rules, summary.examples, total - failed);
            Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        RulesCommand::List { packs, format, json } => {
            let (compiled, _) = compile(&packs)?;
            if json || format == TextOrJson::Json {
                let rows: Vec<serde_json::Value> = compiled
                    .rules
                    .iter()
                    .map(|r| {
                        serde_json::json!({"id": r.id, "pack": r.pack, "category": r.category, "label": r.label, "kind": kind_name(&r.kind),
                        "score": r.score, "action": r.action, "enabled": r.enabled,
                        "directions": picket::Direction::ALL.iter().filter(|d| r.directions[**d as usize]).collect::<Vec<_>>()})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({"packs": compiled.packs, "rules": rows}))?);
            } else {
                for p in &compiled.packs {
                    println!("# pack {} {} ({} rules) {}", p.id, p.version, p.rules, p.source);
                }
                println!("{:<44} {:<10} {:<9} {:>5} {:<7} {:<22} enabled", "id", "category", "kind", "score", "action", "directions");
                for r in &compiled.rules {
                    let dirs: Vec<&str> =
                        picket::Direction::ALL.iter().filter(|d| r.directions[**d as usize]).map(|d| d.as_str()).collect();
                    println!(
                        "{:<44} {:<10} {:<9} {:>5.2} {:<7} {:<22} {}",
                        r.id,
                        r.category.as_str(),
                        kind_name(&r.kind),
                        r.score,
                        format!("{:?}", r.action).to_lowercase(),
                        dirs.join(","),
                        r.enabled
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn kind_name(kind: &RuleKind) -> &'static str {
    match kind {
        RuleKind::Regex { .. } => "regex",
        RuleKind::Keywords { .. } => "keywords",
        RuleKind::Evasion(_) => "evasion",
    }
}
