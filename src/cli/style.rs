//! Output habits shared by every command: `--color auto|always|never` (with `NO_COLOR` and
//! `CLICOLOR_FORCE` honoured under `auto`), `--format text|json`, and `--fail-on`.

use std::io::IsTerminal;
use std::sync::OnceLock;

use picket::Decision;

/// When to paint terminal output.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal, unless `NO_COLOR` is set (`CLICOLOR_FORCE` forces it).
    #[default]
    Auto,
    Always,
    Never,
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Record the `--color` flag (once, at start-up).
pub fn set_color(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

/// Whether stdout gets ANSI colour. An explicit `--color` wins over the environment; under
/// `auto`, a non-empty `NO_COLOR` turns colour off (no-color.org), then a non-empty
/// `CLICOLOR_FORCE` other than `0` turns it on, else colour follows whether stdout is a
/// terminal (and `TERM` is not `dumb`).
pub fn color_stdout() -> bool {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    match CHOICE.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if env("NO_COLOR").is_some() => false,
        ColorChoice::Auto if env("CLICOLOR_FORCE").is_some_and(|v| v != "0") => true,
        ColorChoice::Auto => std::io::stdout().is_terminal() && env("TERM").is_none_or(|t| t != "dumb"),
    }
}

/// `s` wrapped in the SGR `code` when `color` is on.
pub fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// The decision word, red for block and yellow for mask.
pub fn decision(color: bool, d: Decision) -> String {
    match d {
        Decision::Block => paint(color, "1;31", "block"),
        Decision::Mask => paint(color, "1;33", "mask"),
        Decision::Allow => paint(color, "32", "allow"),
    }
}

/// `--format` of commands whose output is a human view or JSON.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TextOrJson {
    #[default]
    Text,
    Json,
}

/// `--fail-on`: the weakest decision that makes the exit status 1.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailOn {
    /// Exit 1 when anything is masked or blocked (a CI gate for secrets in documents).
    Mask,
    /// Exit 1 only when something is blocked.
    #[default]
    Block,
}

impl FailOn {
    /// Whether `worst`, the strongest decision of a run, fails it.
    pub fn fails(self, worst: Decision) -> bool {
        match self {
            FailOn::Mask => worst >= Decision::Mask,
            FailOn::Block => worst >= Decision::Block,
        }
    }
}

/// Every message of an error chain once: a cause whose text its parent already shows
/// (`thiserror`'s `"...: {source}"`) is not repeated.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_shown_by_its_parent_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file (os error 2)");
        let e = anyhow::Error::new(io).context("cannot read config x.toml: No such file (os error 2)").context("loading");
        assert_eq!(error_chain(&e), "loading: cannot read config x.toml: No such file (os error 2)");
    }

    #[test]
    fn fail_on_orders_decisions() {
        assert!(FailOn::Mask.fails(Decision::Mask) && FailOn::Mask.fails(Decision::Block));
        assert!(!FailOn::Block.fails(Decision::Mask) && FailOn::Block.fails(Decision::Block));
        assert!(!FailOn::Mask.fails(Decision::Allow));
    }
}
