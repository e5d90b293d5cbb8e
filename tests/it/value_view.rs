//! Values that survived masking (issue 10): PII and secret rules also match the value view
//! (zero-width characters removed, full-width and other scripts' digits folded, `%40` and
//! `&#64;` decoded, validated digit groups joined across any separator, a lower-case IBAN upper-
//! cased) and bare values decoded from hex or base64. Each finding must point at the exact
//! ORIGINAL bytes, and the masked text must keep the value in no form: as written, folded, or
//! decoded.

use base64::Engine as _;
use picket::detect::Via;
use picket::text::decode::{find_payloads, DecodeLimits};
use picket::text::values::value_view;
use picket::{Budget, Decision, Direction, Engine, EngineConfig, Report, ScanRequest};

fn engine() -> Engine {
    Engine::new(EngineConfig { hash_key: Some(b"k".to_vec()), ..EngineConfig::default() }).unwrap()
}

fn scan(text: &str) -> Report {
    engine().scan(&ScanRequest { return_masked: true, classify: false, ..ScanRequest::new(text, Direction::Output) }).unwrap()
}

/// Letters, digits and `@` of `s` as a reader sees them: the value view, with separators gone.
fn compact(s: &str) -> String {
    let folded = value_view(s, Budget::UNLIMITED).map_or(s.to_string(), |v| v.view.text);
    folded.chars().filter(|c| c.is_alphanumeric() || *c == '@').collect::<String>().to_lowercase()
}

/// Scan `text`; `rule` must find exactly the original bytes `covered` (via `via`), mask them, and
/// the masked text must not hold `value` (what the covered bytes mean) in any form: no piece of
/// five characters (more than the `kept` tail) survives, as written, in the value view or in a
/// decoded payload.
#[track_caller]
fn assert_found_and_masked(text: &str, rule: &str, covered: &str, value: &str, via: Via, kept: usize) {
    let report = scan(text);
    let found: Vec<(&str, &str, Via)> = report.findings.iter().map(|f| (f.rule.as_str(), &text[f.start..f.end], f.via)).collect();
    let f = report
        .findings
        .iter()
        .find(|f| f.rule == rule && &text[f.start..f.end] == covered)
        .unwrap_or_else(|| panic!("{rule} did not find {covered:?} in {text:?}: {found:?}"));
    assert_eq!(f.via, via, "{rule} in {text:?}");
    assert!(f.masked, "{rule} finding not masked: {found:?}");
    assert_eq!(f.char_start, text[..f.start].chars().count());
    assert_ne!(report.decision, Decision::Allow);
    let masked = report.masked.as_deref().unwrap();
    assert!(!masked.contains(covered), "{covered:?} survived in {masked:?}");
    let mut forms = vec![compact(masked)];
    forms.extend(find_payloads(masked, &DecodeLimits::default()).into_iter().map(|p| compact(&p.decoded)));
    let value: Vec<char> = compact(value).chars().collect();
    for w in value.windows((kept + 1).max(5).min(value.len())) {
        let piece: String = w.iter().collect();
        for form in &forms {
            assert!(!form.contains(&piece), "{piece:?} of {rule} survived in {masked:?} (read as {form:?})");
        }
    }
}

const CARD: &str = "pii.credit_card";

#[test]
fn values_split_by_zero_width_spaces() {
    let t = "pay with card 4111\u{200B}1111\u{200B}1111\u{200B}1111 today";
    assert_found_and_masked(t, CARD, "4111\u{200B}1111\u{200B}1111\u{200B}1111", "4111111111111111", Via::Normalized, 4);
    let split: String = "5555555555554444".chars().flat_map(|c| [c, '\u{200B}']).collect();
    let t = format!("card {split}.");
    assert_found_and_masked(&t, CARD, split.trim_end_matches('\u{200B}'), "5555555555554444", Via::Normalized, 4);
    let t = "creds: AKIAVQJX\u{200B}XVBO\u{2060}THD2WTFL end";
    assert_found_and_masked(
        t,
        "secret.aws.access_key_id",
        "AKIAVQJX\u{200B}XVBO\u{2060}THD2WTFL",
        "AKIAVQJXXVBOTHD2WTFL",
        Via::Normalized,
        0,
    );
}

#[test]
fn full_width_and_arabic_indic_digits() {
    let t = "card ４１１１ １１１１ １１１１ １１１１ ok";
    assert_found_and_masked(t, CARD, "４１１１ １１１１ １１１１ １１１１", "4111111111111111", Via::Normalized, 4);
    let t = "SSN ٥٣٦-٢٢-٤٨٧١ on file";
    assert_found_and_masked(t, "pii.us_ssn", "٥٣٦-٢٢-٤٨٧١", "536224871", Via::Normalized, 0);
    let t = "write to ｂｏｂ．ｓｍｉｔｈ＠ｅｘａｍｐｌｅ．ｃｏｍ today";
    assert_found_and_masked(t, "pii.email", "ｂｏｂ．ｓｍｉｔｈ＠ｅｘａｍｐｌｅ．ｃｏｍ", "bob.smith@example.com", Via::Normalized, 0);
}

#[test]
fn nbsp_as_separator() {
    let t = "card 4111\u{00A0}1111\u{00A0}1111\u{00A0}1111, thanks";
    assert_found_and_masked(t, CARD, "4111\u{00A0}1111\u{00A0}1111\u{00A0}1111", "4111111111111111", Via::Normalized, 4);
    let t = "SSN 536\u{202F}22\u{202F}4871 on file";
    assert_found_and_masked(t, "pii.us_ssn", "536\u{202F}22\u{202F}4871", "536224871", Via::Normalized, 0);
}

#[test]
fn dots_as_separator() {
    assert_found_and_masked("card 4111.1111.1111.1111.", CARD, "4111.1111.1111.1111", "4111111111111111", Via::Normalized, 4);
    assert_found_and_masked("SSN 536.22.4871 on file", "pii.us_ssn", "536.22.4871", "536224871", Via::Normalized, 0);
    let t = "IBAN DE89.3704.0044.0532.0130.00 please";
    assert_found_and_masked(t, "pii.iban", "DE89.3704.0044.0532.0130.00", "DE89370400440532013000", Via::Normalized, 0);
}

#[test]
fn slashes_as_separator() {
    assert_found_and_masked("card 5555/5555/5555/4444 ok", CARD, "5555/5555/5555/4444", "5555555555554444", Via::Normalized, 4);
    assert_found_and_masked("SSN 536/22/4871", "pii.us_ssn", "536/22/4871", "536224871", Via::Normalized, 0);
    assert_found_and_masked("tel +46/70/123/45/67 evenings", "pii.phone.intl", "+46/70/123/45/67", "46701234567", Via::Normalized, 0);
}

#[test]
fn line_breaks_as_separator() {
    let t = "my card:\n4111\n1111\r\n1111\n  1111\nthanks";
    assert_found_and_masked(t, CARD, "4111\n1111\r\n1111\n  1111", "4111111111111111", Via::Normalized, 4);
    let t = "iban:\nGB29\nNWBK\n6016\n1331\n9268\n19\n";
    assert_found_and_masked(t, "pii.iban", "GB29\nNWBK\n6016\n1331\n9268\n19", "GB29NWBK60161331926819", Via::Normalized, 0);
}

#[test]
fn a_lower_case_iban() {
    let t = "refund to iban de89 3704 0044 0532 0130 00 please";
    assert_found_and_masked(t, "pii.iban", "de89 3704 0044 0532 0130 00", "DE89370400440532013000", Via::Normalized, 0);
    assert_found_and_masked(
        "beneficiary gb29nwbk60161331926819.",
        "pii.iban",
        "gb29nwbk60161331926819",
        "GB29NWBK60161331926819",
        Via::Normalized,
        0,
    );
}

#[test]
fn an_idn_email() {
    let t = "Schreib an jörg.müller@bücher.example.de bitte";
    assert_found_and_masked(t, "pii.email", "jörg.müller@bücher.example.de", "jörg.müller@bücher.example.de", Via::Direct, 0);
    assert_found_and_masked("почта: иван@пример.рф, спасибо", "pii.email", "иван@пример.рф", "иван@пример.рф", Via::Direct, 0);
    assert_found_and_masked("メール: 山田@例え.テスト です", "pii.email", "山田@例え.テスト", "山田@例え.テスト", Via::Direct, 0);
}

#[test]
fn values_inside_hex() {
    let hex = hex::encode("4111111111111111");
    let t = format!("blob {hex} end");
    assert_found_and_masked(&t, CARD, &hex, "4111111111111111", Via::Decoded, 0);
    let hex = hex::encode("bob.smith@example.com");
    assert_found_and_masked(&format!("x={hex}"), "pii.email", &hex, "bob.smith@example.com", Via::Decoded, 0);
    let hex = hex::encode("536-22-4871");
    assert_found_and_masked(&format!("ssn hex {hex}."), "pii.us_ssn", &hex, "536224871", Via::Decoded, 0);
}

#[test]
fn values_inside_percent_encoding() {
    let t = "contact: bob.smith%40example.com, plan=pro";
    assert_found_and_masked(t, "pii.email", "bob.smith%40example.com", "bob.smith@example.com", Via::Normalized, 0);
    let t = "q=card%204111%201111%201111%201111";
    assert_found_and_masked(t, CARD, "4111%201111%201111%201111", "4111111111111111", Via::Normalized, 4);
    let encoded: String = "AKIAVQJXXVBOTHD2WTFL".bytes().map(|b| format!("%{b:02X}")).collect();
    let t = format!("key={encoded}");
    assert_found_and_masked(&t, "secret.aws.access_key_id", &encoded, "AKIAVQJXXVBOTHD2WTFL", Via::Normalized, 0);
}

#[test]
fn values_inside_html_entities() {
    let t = "<p>Mail bob.smith&#64;example&period;com today</p>";
    assert_found_and_masked(t, "pii.email", "bob.smith&#64;example&period;com", "bob.smith@example.com", Via::Normalized, 0);
    let entities: String = "4111111111111111".chars().map(|c| format!("&#{};", c as u32)).collect();
    let t = format!("<td>card {entities}</td>");
    assert_found_and_masked(&t, CARD, &entities, "4111111111111111", Via::Normalized, 0);
    let t = "card 4111&nbsp;1111&#x20;1111&nbsp;1111";
    assert_found_and_masked(t, CARD, "4111&nbsp;1111&#x20;1111&nbsp;1111", "4111111111111111", Via::Normalized, 4);
}

#[test]
fn bare_base64_values() {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    // `kubectl get secret ci -o jsonpath='{.data.token}'` prints one bare value.
    let token = "ghp_WiLxQq79ZCb2DmK8VnJtx3YgFuNpEsR0abCd";
    let t = format!("$ kubectl get secret ci -o jsonpath='{{.data.token}}'\n{}\n", b64(token));
    assert_found_and_masked(&t, "secret.github.classic_pat", &b64(token), token, Via::Decoded, 0);
    let key = "AKIAVQJXXVBOTHD2WTFL";
    assert_found_and_masked(&format!("echo {} | base64 -d", b64(key)), "secret.aws.access_key_id", &b64(key), key, Via::Decoded, 0);
    let email = "farah.haddad@corp.example.io";
    assert_found_and_masked(&format!("user: {}", b64(email)), "pii.email", &b64(email), email, Via::Decoded, 0);
}

/// What the original already shows is reported once, from the original.
#[test]
fn plain_values_are_found_once_and_directly() {
    for text in ["mail bob@example.com, tel 555\u{00A0}0134 ok", "mail bob@example.com — Grüße…", "mail bob@example.com 50%"] {
        let report = scan(text);
        let emails: Vec<_> = report.findings.iter().filter(|f| f.rule == "pii.email").collect();
        assert_eq!(emails.len(), 1, "{text:?}: {emails:?}");
        assert_eq!(emails[0].via, Via::Direct);
        assert!(!report.masked.unwrap().contains("bob@"));
    }
}

/// Ordinary text with numbers, separators, escapes and other scripts: nothing found beyond what
/// the original text shows (the separator rewrites need a checksum, and only checksum rules may
/// report them), and no view at all for most of it.
#[test]
fn ordinary_text_gains_no_findings() {
    let texts = [
        "Released on 12.03.2024 (version 4.12.3.1), installed under /usr/lib/4111/1111 on 10.0.12.7.",
        "Totals by quarter:\n4100\n4250\n3900\n4425\nand by year:\n2019\n2020\n2021\n2022\n",
        "Meeting 2024/03/12 10:30, room 1.204, build 7.5.2024.1187, ratio 1/3/5/7.",
        "Tom &amp; Jerry &lt;b&gt; 100% sure; see https://example.com/search?q=rust%20regex%2Fcrate&x=1",
        "你好，世界：测试（一），２０２４年３月",
        "Привет, как дела? Grüße aus Köln — café crème, 3\u{00A0}500\u{00A0}€",
        "\u{1F469}\u{200D}\u{1F4BB} coding, mi\u{200C}khaham",
        "commit 3fce3b5bb0231c4d9c1a2b3c4d5e6f7a8b9c0d1e, id ABCDEFGHIJKLMNOPQRST, sha 9f86d081884c7d65",
    ];
    for text in texts {
        let report = scan(text);
        let new: Vec<_> =
            report.findings.iter().filter(|f| f.via != Via::Direct).map(|f| (f.rule.as_str(), &text[f.start..f.end], f.via)).collect();
        assert!(new.is_empty(), "{text:?}: {new:?}");
    }
}
