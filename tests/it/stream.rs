//! The streaming scanner against one-shot masking: for random texts and random chunkings, the
//! concatenated released text equals the one-shot `masked` text, and no masked value ever
//! appears in released text. Also `picket scan --stream` reading a pipe as it fills.

use std::io::{BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use picket::policy::DirectionPolicy;
use picket::stream::{StreamOptions, StreamScanner, StreamStop};
use picket::{Direction, Engine, EngineConfig, Policy, ScanRequest};

/// xorshift64*: deterministic, so a failure names its case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chars(&mut self, alphabet: &str, n: usize) -> String {
        let a: Vec<char> = alphabet.chars().collect();
        (0..n).map(|_| a[self.below(a.len())]).collect()
    }
}

const WORDS: &[&str] = &[
    "the",
    "reply",
    "is",
    "ready",
    "contact",
    "email",
    "card",
    "order",
    "server",
    "phone",
    "call",
    "iban",
    "ssn",
    "héllo",
    "naïve",
    "日本語",
    "Привет",
    "🙂",
    "数据",
    "déjà",
    "vu",
    "and",
    "of",
    "to:",
    "ref",
    "total",
    "password",
    "is",
    "not",
    "a",
    "b",
    "x",
];
const GAPS: &[&str] = &[" ", " ", " ", ", ", ". ", "\n", "  ", "\t", ": ", " (", ") ", "\"", " — ", "=", "/", "; "];

/// A random value a shipped rule masks, distinct per call (fresh random parts).
fn value(rng: &mut Rng) -> String {
    const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    match rng.below(9) {
        0 | 1 => format!(
            "{}.{}@{}.{}",
            rng.chars("abcdefghij", 3 + rng.below(6)),
            rng.chars("klmnop", 2),
            rng.chars("qrstuvw", 4),
            rng.pick(&["com", "org", "de", "co.uk"])
        ),
        2 => {
            let mut digits: Vec<u32> = std::iter::once(4).chain((0..14).map(|_| rng.below(10) as u32)).collect();
            let sum: u32 = digits
                .iter()
                .rev()
                .enumerate()
                .map(|(i, &d)| {
                    if i % 2 == 0 {
                        let x = d * 2;
                        if x > 9 {
                            x - 9
                        } else {
                            x
                        }
                    } else {
                        d
                    }
                })
                .sum();
            digits.push((10 - sum % 10) % 10);
            let s: String = digits.iter().map(|d| char::from(b'0' + *d as u8)).collect();
            let sep = rng.pick(&[" ", "-", ""]);
            format!("{}{sep}{}{sep}{}{sep}{}", &s[0..4], &s[4..8], &s[8..12], &s[12..16])
        }
        3 => format!("ghp_{}", rng.chars(ALNUM, 36)),
        4 => format!("AKIA{}", rng.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
        5 => format!("sk-proj-{}", rng.chars(ALNUM, 40 + rng.below(20))),
        6 => format!("({}) {}-{}", 200 + rng.below(700), 200 + rng.below(700), 1000 + rng.below(9000)),
        7 => format!("10.{}.{}.{}", rng.below(250), rng.below(250), 1 + rng.below(250)),
        _ => format!("<EMAIL_{}>", 1 + rng.below(9)),
    }
}

fn text(rng: &mut Rng) -> String {
    let mut t = String::new();
    for _ in 0..4 + rng.below(28) {
        match rng.below(6) {
            0 => t.push_str(&value(rng)),
            _ => t.push_str(rng.pick(WORDS)),
        }
        t.push_str(rng.pick(GAPS));
    }
    if rng.below(3) == 0 {
        t.push_str(&value(rng));
    }
    t
}

/// A policy that never blocks, so every text streams to its end and masks.
fn open_engine() -> Arc<Engine> {
    let open = DirectionPolicy { block: Default::default(), min_score: 0.5 };
    let policy = Policy { name: "open".into(), directions: [open.clone(), open.clone(), open], shadow: false, include_values: false };
    Arc::new(Engine::new(EngineConfig { policies: vec![policy], ..EngineConfig::default() }).unwrap())
}

fn options() -> StreamOptions {
    let mut o = StreamOptions::new(Direction::Output);
    o.policy = Some("open".into());
    o
}

/// Stream `text` in the given byte chunks (split anywhere, multibyte characters included).
fn stream(engine: &Arc<Engine>, text: &str, cuts: &[usize]) -> Result<String, StreamStop> {
    let mut s = StreamScanner::new(engine.clone(), options()).unwrap();
    let mut out = String::new();
    let mut at = 0;
    for &c in cuts.iter().chain(std::iter::once(&text.len())) {
        out += &s.push_bytes(&text.as_bytes()[at..c])?;
        at = c;
    }
    out += &s.finish()?;
    Ok(out)
}

#[test]
fn streamed_output_equals_one_shot_masking() {
    let engine = open_engine();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut masked_values = 0;
    for case in 0..10_000 {
        let text = text(&mut rng);
        let mut req = ScanRequest::new(&text, Direction::Output);
        req.policy = Some("open");
        req.classify = false;
        req.return_masked = true;
        let report = engine.scan(&req).unwrap();
        let expected = report.masked.clone().unwrap();
        let values: Vec<&str> = report.findings.iter().filter(|f| f.masked).map(|f| &text[f.start..f.end]).collect();
        masked_values += values.len();
        let n = text.len();
        let chunkings: [Vec<usize>; 3] = [
            (1..n).collect(),
            {
                let mut cuts = Vec::new();
                let mut at = 0;
                while at < n {
                    at += 1 + rng.below(9);
                    if at < n {
                        cuts.push(at);
                    }
                }
                cuts
            },
            {
                let mut cuts: Vec<usize> = (0..rng.below(4)).map(|_| rng.below(n.max(1))).filter(|&c| c > 0).collect();
                cuts.sort_unstable();
                cuts.dedup();
                cuts
            },
        ];
        for (k, cuts) in chunkings.iter().enumerate() {
            if k == 0 && case % 4 != 0 {
                continue; // 1-byte chunks on every 4th text (2,500 texts): the slowest chunking
            }
            let got = stream(&engine, &text, cuts).unwrap_or_else(|e| panic!("case {case} chunking {k}: {e} on {text:?}"));
            assert_eq!(got, expected, "case {case} chunking {k}: {text:?}");
            for v in &values {
                assert!(!got.contains(v), "case {case}: {v:?} leaked in {got:?}");
            }
        }
    }
    assert!(masked_values > 10_000, "the texts carry values to mask ({masked_values})");
}

/// Under the default policy a secret in output blocks; nothing of the secret was released.
#[test]
fn a_blocked_stream_never_released_the_secret() {
    let engine = Arc::new(Engine::new(EngineConfig::default()).unwrap());
    let mut rng = Rng(7);
    for case in 0..300 {
        let key = format!("ghp_{}", rng.chars("abcdefghijklmnopqrstuvwxyz0123456789", 36));
        let text = format!("{} here it is: {key} and more text after it", text(&mut rng));
        let mut s = StreamScanner::new(engine.clone(), StreamOptions::new(Direction::Output)).unwrap();
        let mut out = String::new();
        let mut stopped = None;
        for b in text.as_bytes().chunks(1 + case % 7) {
            match s.push_bytes(b) {
                Ok(r) => out += &r,
                Err(e) => {
                    stopped = Some(e);
                    break;
                }
            }
        }
        let stopped = stopped.or_else(|| s.finish().err());
        assert!(matches!(stopped, Some(StreamStop::Blocked { .. })), "case {case}: {stopped:?}");
        assert!(!out.contains("ghp_"), "case {case}: {out:?}");
    }
}

/// `picket scan --stream` writes what is safe while stdin is still open.
#[test]
fn scan_stream_releases_early_on_a_pipe() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["scan", "--stream", "--direction", "output"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdin.write_all(b"Hello there, write to john.do").unwrap();
    stdin.flush().unwrap();
    // The first words arrive while stdin is still open; the half-written address does not.
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut first = [0u8; 13];
        stdout.read_exact(&mut first).unwrap();
        tx.send(first.to_vec()).unwrap();
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        rest
    });
    let started = Instant::now();
    let first = rx.recv_timeout(Duration::from_secs(60)).expect("early output before stdin closed");
    assert_eq!(String::from_utf8(first).unwrap(), "Hello there, ");
    assert!(started.elapsed() < Duration::from_secs(60));
    stdin.write_all(b"e@example.com today.\nBye").unwrap();
    drop(stdin);
    let rest = reader.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert!(rest.starts_with("write to [EMAIL] today."), "{rest:?}");
    assert!(!rest.contains("john"), "{rest:?}");
}
