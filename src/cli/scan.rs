//! `picket scan`: one text (`--text`, or all of stdin), JSON Lines (`--jsonl`), or a corpus of
//! files and folders (`PATH...`, see [`corpus`] and docs/batch.md).

mod corpus;

use std::io::{BufRead, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Deserialize;

use picket::{Decision, Direction, Engine, ScanRequest};

use super::EngineArgs;

#[derive(clap::Args)]
pub struct ScanArgs {
    /// Files and folders to scan as a corpus (corpus mode; see docs/batch.md).
    #[arg(value_name = "PATH", conflicts_with_all = ["text", "jsonl"])]
    paths: Vec<PathBuf>,
    /// The text to scan.
    #[arg(long, conflicts_with = "jsonl")]
    text: Option<String>,
    /// JSON Lines of {"text", "id"?, "direction"?} from FILE, or stdin with `-`.
    #[arg(long, value_name = "FILE|-", num_args = 0..=1, default_missing_value = "-")]
    jsonl: Option<PathBuf>,
    /// Direction of the text(s) [default: input; corpus mode: context].
    #[arg(long, value_parser = parse_direction)]
    direction: Option<Direction>,
    /// Policy name (from the config file; `default` is built in).
    #[arg(long)]
    policy: Option<String>,
    /// Include the masked text in every report, whatever the decision.
    #[arg(long)]
    masked: bool,
    /// Pretty-print JSON.
    #[arg(long)]
    pretty: bool,
    /// Read stdin as it arrives and write the masked text (not a report) as soon as it is safe;
    /// direction defaults to output. Exit 1 when the policy blocks mid-stream.
    #[arg(long, conflicts_with_all = ["text", "jsonl", "paths", "masked", "pretty"])]
    stream: bool,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    corpus: corpus::CorpusArgs,
}

fn parse_direction(s: &str) -> Result<Direction, String> {
    s.parse()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    text: String,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    direction: Option<Direction>,
    #[serde(default)]
    policy: Option<String>,
}

pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    if let (true, Some(flag)) = (args.paths.is_empty(), args.corpus.misplaced()) {
        anyhow::bail!("{flag} is a corpus-mode flag: give files or folders to scan (picket scan PATH... {flag} ...)");
    }
    let engine = args.engine.engine()?;
    if !args.paths.is_empty() {
        return corpus::run(&args.paths, &args.corpus, &engine, args.direction, args.policy.as_deref());
    }
    if args.stream {
        return scan_stream(engine, &args);
    }
    if let Some(source) = &args.jsonl {
        return scan_jsonl(&engine, &args, source);
    }
    let text = match &args.text {
        Some(t) => t.clone(),
        None => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).context("reading stdin")?;
            String::from_utf8(bytes)
                .map_err(|e| anyhow::anyhow!("stdin is not valid UTF-8 (first bad byte at offset {})", e.utf8_error().valid_up_to()))?
        }
    };
    let report = engine.scan(&request(&args, &text, args.direction.unwrap_or(Direction::Input), args.policy.as_deref()))?;
    let out = if args.pretty { serde_json::to_string_pretty(&report)? } else { serde_json::to_string(&report)? };
    println!("{out}");
    Ok(if report.decision == Decision::Block { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn request<'a>(args: &'a ScanArgs, text: &'a str, direction: Direction, policy: Option<&'a str>) -> ScanRequest<'a> {
    ScanRequest { policy, return_masked: args.masked, classify: !args.engine.no_classifier, ..ScanRequest::new(text, direction) }
}

/// One report per line, in order, `id` echoed. A bad line yields an error object naming its line
/// number and the run goes on; the exit status is then 2.
fn scan_jsonl(engine: &Engine, args: &ScanArgs, source: &PathBuf) -> anyhow::Result<ExitCode> {
    let input: Box<dyn BufRead> = if source.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(source).with_context(|| format!("opening {}", source.display()))?))
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let (mut blocked, mut errors) = (false, 0usize);
    for (n, line) in input.split(b'\n').enumerate() {
        let line_no = n + 1;
        let bytes = line.context("reading input")?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let result = std::str::from_utf8(&bytes)
            .map_err(|e| format!("line is not valid UTF-8 (byte {})", e.valid_up_to()))
            .and_then(|s| serde_json::from_str::<Line>(s).map_err(|e| format!("malformed JSON: {e}")))
            .and_then(|l| {
                let direction = l.direction.or(args.direction).unwrap_or(Direction::Input);
                let policy = l.policy.as_deref().or(args.policy.as_deref());
                engine.scan(&request(args, &l.text, direction, policy)).map(|r| (l.id.clone(), r)).map_err(|e| e.to_string())
            });
        let value = match result {
            Ok((id, report)) => {
                blocked |= report.decision == Decision::Block;
                let mut v = serde_json::to_value(&report)?;
                if let (Some(id), Some(obj)) = (id, v.as_object_mut()) {
                    obj.insert("id".into(), id);
                }
                v
            }
            Err(message) => {
                errors += 1;
                eprintln!("picket: line {line_no}: {message}");
                serde_json::json!({"line": line_no, "error": {"code": "bad_line", "message": message}})
            }
        };
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(match (errors, blocked) {
        (0, false) => ExitCode::SUCCESS,
        (0, true) => ExitCode::from(1),
        _ => ExitCode::from(2),
    })
}

/// `--stream`: stdin → [`picket::stream::StreamScanner`] → stdout, flushed after every release.
fn scan_stream(engine: Engine, args: &ScanArgs) -> anyhow::Result<ExitCode> {
    use picket::stream::{StreamOptions, StreamScanner};
    let mut opts = StreamOptions::new(args.direction.unwrap_or(Direction::Output));
    opts.policy = args.policy.clone();
    let mut scanner = StreamScanner::new(std::sync::Arc::new(engine), opts)?;
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading stdin"),
        };
        let released = if n == 0 { scanner.finish() } else { scanner.push_bytes(&buf[..n]) };
        match released {
            Ok(text) => {
                stdout.write_all(text.as_bytes())?;
                stdout.flush()?;
            }
            Err(stop) => {
                stdout.flush()?;
                eprintln!("picket: stream stopped: {stop}");
                let blocked = matches!(stop, picket::stream::StreamStop::Blocked { .. });
                return Ok(ExitCode::from(if blocked { 1 } else { 2 }));
            }
        }
        if n == 0 {
            return Ok(ExitCode::SUCCESS);
        }
    }
}
