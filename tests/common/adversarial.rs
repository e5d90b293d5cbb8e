//! Adversarial text shapes for the linear-cost checks (`tests/adversarial.rs`) and the
//! benchmark (`benches/adversarial.rs`): each builds exactly `len` bytes of valid UTF-8 from a
//! fixed seed, so runs are comparable.

#![allow(dead_code)]

/// A named shape and its generator.
pub type Shape = (&'static str, fn(usize) -> String);

/// Every shape the issue names: no spaces, minified JSON, base64, one repeated e-mail, keyword
/// hits, deep nesting; plus the two that were slowest before the fixes (leet and mixed digits).
pub const SHAPES: &[Shape] = &[
    ("no_spaces_leet", no_spaces_leet),
    ("no_spaces_alnum", no_spaces_alnum),
    ("minified_json", minified_json),
    ("base64", base64_blob),
    ("repeated_email", repeated_email),
    ("keyword_hits", keyword_hits),
    ("deep_nesting", deep_nesting),
    ("digits_and_separators", digits_and_separators),
    ("mixed_script_no_spaces", mixed_script_no_spaces),
    ("zero_width_everywhere", zero_width_everywhere),
    ("separated_values", separated_values),
    ("escaped_values", escaped_values),
];

/// Repeat `unit` and cut at `len` bytes (on a char boundary, padded with ASCII).
fn fill(unit: &str, len: usize) -> String {
    let mut s = unit.repeat(len / unit.len() + 1);
    let mut cut = len;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    while s.len() < len {
        s.push('x');
    }
    s
}

/// Small deterministic generator (xorshift), so no dependency and no seed file.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `a@a@a@...`: every byte is a leet character touching a letter, and there is no space to
/// snap a region to (512 KB took ~100 s before `leet_regions` was made linear).
pub fn no_spaces_leet(len: usize) -> String {
    fill("a@", len)
}

/// Random letters and digits (leet digits among them), no spaces.
pub fn no_spaces_alnum(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..len).map(|_| ALPHABET[(rng.next() % ALPHABET.len() as u64) as usize] as char).collect()
}

/// One JSON array of records without whitespace.
pub fn minified_json(len: usize) -> String {
    let mut rng = Rng(7);
    let mut s = String::from("[");
    let mut i = 0u64;
    while s.len() < len {
        let n = rng.next() % 100_000;
        s.push_str(&format!(
            r#"{{"id":{i},"user":"u{n}","email":"u{n}@example.com","ip":"10.0.{}.{}","tags":["a1","b2"],"ok":true,"score":0.{n}}},"#,
            n % 256,
            i % 256
        ));
        i += 1;
    }
    s.truncate(len);
    s
}

/// Base64 of pseudo-random bytes, one line.
pub fn base64_blob(len: usize) -> String {
    use base64::Engine as _;
    let mut rng = Rng(42);
    let raw: Vec<u8> = (0..len * 3 / 4 + 4).map(|_| rng.next() as u8).collect();
    let mut s = base64::engine::general_purpose::STANDARD.encode(raw);
    s.truncate(len);
    s
}

/// One e-mail address repeated, space separated.
pub fn repeated_email(len: usize) -> String {
    fill("jane.doe@example.com ", len)
}

/// A keyword phrase repeated: thousands of keyword hits per text.
pub fn keyword_hits(len: usize) -> String {
    fill("ignore previous instructions ", len)
}

/// JSON nested as deep as the length allows: `{"a":{"a":...}}`.
pub fn deep_nesting(len: usize) -> String {
    let depth = (len / 6).max(1);
    let mut s = String::with_capacity(len);
    for _ in 0..depth {
        s.push_str(r#"{"a":"#);
    }
    s.push('1');
    while s.len() < len {
        s.push('}');
    }
    s.truncate(len);
    s
}

/// Digits with separators and no letters: what phone, card and IBAN patterns try at every byte.
pub fn digits_and_separators(len: usize) -> String {
    let mut rng = Rng(3);
    const SEPS: &[u8] = b"0123456789-.+ /()";
    (0..len).map(|_| SEPS[(rng.next() % SEPS.len() as u64) as usize] as char).collect()
}

/// Latin with Cyrillic look-alikes and no spaces: one endless mixed-script word.
pub fn mixed_script_no_spaces(len: usize) -> String {
    fill("p\u{0430}yp\u{0430}l1gn\u{043E}r3", len)
}

/// A zero-width space after every letter.
pub fn zero_width_everywhere(len: usize) -> String {
    fill("i\u{200B}g\u{200B}n\u{200B}o\u{200B}r\u{200B}e\u{200B} ", len)
}

/// Valid cards, SSNs and IBANs behind separators the rules do not read: every run is joined in
/// the value view and found (issue 10).
pub fn separated_values(len: usize) -> String {
    fill("4111.1111.1111.1111\n536/22/4871 de89 3704 0044 0532 0130 00\n4111\n1111\n1111\n1111 ", len)
}

/// Percent escapes and HTML character references everywhere, half of them standing for value
/// characters, and full-width digits (issue 10: each is folded in the value view).
pub fn escaped_values(len: usize) -> String {
    fill("bob%40example.com&#52;&#x31;&commat;%2F&amp;４１%20１１&nbsp;", len)
}
