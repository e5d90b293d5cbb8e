//! Time each regex rule alone on an adversarial shape at two sizes, to find one whose cost per
//! byte grows: `cargo run --release --example rule_costs [shape]`.

#[path = "../tests/common/adversarial.rs"]
mod adversarial;

use std::time::Instant;

use picket::pack::RuleKind;

fn main() {
    let wanted = std::env::args().nth(1).unwrap_or_else(|| "digits_and_separators".into());
    let (_, shape) = adversarial::SHAPES.iter().find(|(n, _)| *n == wanted).expect("known shape");
    let packs = picket::pack::load(&[]).expect("shipped packs");
    let (small, large) = (shape(256 << 10), shape(4 << 20));
    let engine = picket::Engine::new(picket::EngineConfig::default()).expect("engine");
    for text in [&small, &large] {
        let mb = text.len() as f64 / 1e6;
        let t = Instant::now();
        let n = picket::engine::detect(&packs, text, picket::Direction::Input).len();
        let detect = t.elapsed().as_secs_f64() * 1e3 / mb;
        for masked in [false, true] {
            let req =
                picket::ScanRequest { classify: false, return_masked: masked, ..picket::ScanRequest::new(text, picket::Direction::Input) };
            let t = Instant::now();
            std::hint::black_box(engine.scan(&req).expect("scan"));
            println!(
                "{:>8} B: detect {detect:7.1} ms/MB ({n} findings), scan(masked={masked}) {:7.1} ms/MB",
                text.len(),
                t.elapsed().as_secs_f64() * 1e3 / mb
            );
        }
    }
    use picket::detect::Detector;
    let d = &packs.detectors;
    for text in [&small, &small, &large] {
        let mb = text.len() as f64 / 1e6;
        let t = Instant::now();
        let st = picket::text::ScanText::new(text);
        print!("{:>8} B: normalize {:6.1}", text.len(), t.elapsed().as_secs_f64() * 1e3 / mb);
        let stages: [(&str, &dyn Detector); 3] = [("regex", &d.regex), ("keywords", &d.keywords), ("evasion", &d.evasion)];
        for (name, det) in stages {
            let mut out = Vec::new();
            let t = Instant::now();
            det.detect(&st, &mut out);
            print!("  {name} {:6.1} ({})", t.elapsed().as_secs_f64() * 1e3 / mb, out.len());
        }
        let t = Instant::now();
        let n = picket::text::decode::find_payloads(text, &d.decode_limits).len();
        println!("  payloads {:6.1} ({n})", t.elapsed().as_secs_f64() * 1e3 / mb);
    }
    // The regex detector's three groups built alone (no validators or context words).
    let patterns: Vec<&str> = packs
        .rules
        .iter()
        .filter_map(|r| match &r.kind {
            RuleKind::Regex { pattern, .. } => Some(pattern.as_str()),
            _ => None,
        })
        .collect();
    type Member = fn(&str) -> bool;
    let groups: [(&str, Member); 3] = [
        ("prefixed", |p| picket::detect::regex::prefix_literals(p).is_some()),
        ("alone", |p| picket::detect::regex::prefix_literals(p).is_none() && picket::detect::regex::has_required_literal(p)),
        ("set", |p| picket::detect::regex::prefix_literals(p).is_none() && !picket::detect::regex::has_required_literal(p)),
    ];
    for (name, member) in groups {
        let rules: Vec<picket::detect::RegexRule> = patterns
            .iter()
            .filter(|p| member(p))
            .enumerate()
            .map(|(i, p)| picket::detect::RegexRule {
                rule: i as u32,
                score: 0.5,
                regex: regex::RegexBuilder::new(p).size_limit(4 << 20).dfa_size_limit(8 << 20).build().expect("compiles"),
                group: 0,
                validator: None,
                stopwords: vec![],
                context: None,
            })
            .collect();
        let n = rules.len();
        let det = picket::detect::RegexDetector::build(rules, 64 << 20).expect("builds");
        for text in [&small, &small, &large, &large] {
            let st = picket::text::ScanText::new(text);
            let mut out = Vec::new();
            let t = Instant::now();
            det.detect(&st, &mut out);
            println!(
                "group {name:<9} ({n:>2} rules) {:>8} B {:7.1} ms/MB ({} findings)",
                text.len(),
                t.elapsed().as_secs_f64() * 1e3 / (text.len() as f64 / 1e6),
                out.len()
            );
        }
    }
    let set_patterns: Vec<&str> = packs
        .rules
        .iter()
        .filter_map(|r| match &r.kind {
            RuleKind::Regex { pattern, .. } => Some(pattern.as_str()),
            _ => None,
        })
        .filter(|p| picket::detect::regex::prefix_literals(p).is_none() && !picket::detect::regex::has_required_literal(p))
        .collect();
    let set = regex::RegexSetBuilder::new(&set_patterns).size_limit(64 << 20).dfa_size_limit(packs_set_limit()).build().expect("set");
    for text in [&small, &small, &large, &large] {
        let t = Instant::now();
        let n = set.matches(text).iter().count();
        println!(
            "set of {} rules: {:>8} B {:7.1} ms/MB ({n} match)",
            set_patterns.len(),
            text.len(),
            t.elapsed().as_secs_f64() * 1e3 / (text.len() as f64 / 1e6)
        );
    }
    for text in [&small, &large] {
        let t = Instant::now();
        let mut n = 0;
        for chunk in text.as_bytes().chunks(128 << 10) {
            n += set.matches(std::str::from_utf8(chunk).unwrap_or("")).iter().count();
        }
        println!(
            "set in 128 KiB chunks: {:>8} B {:7.1} ms/MB ({n})",
            text.len(),
            t.elapsed().as_secs_f64() * 1e3 / (text.len() as f64 / 1e6)
        );
    }
    for rule in &packs.rules {
        let RuleKind::Regex { pattern, .. } = &rule.kind else { continue };
        let re = regex::Regex::new(pattern).expect("compiled once already");
        let per_mb = |text: &str| {
            let t = Instant::now();
            let n = re.find_iter(text).count();
            (t.elapsed().as_secs_f64() * 1e3 / (text.len() as f64 / 1e6), n)
        };
        let ((a, na), (b, nb)) = (per_mb(&small), per_mb(&large));
        if b > 2.0 {
            println!("{:<40} {a:8.2} ms/MB ({na} hits)  {b:8.2} ms/MB ({nb} hits)  ratio {:.2}", rule.id, b / a);
        }
    }
}

/// Whole-pipeline split for the same shape: detection alone, then the full scan.
#[allow(dead_code)]
fn pipeline() {}

fn packs_set_limit() -> usize {
    std::env::var("SET_DFA").ok().and_then(|v| v.parse().ok()).unwrap_or(8 << 20)
}
