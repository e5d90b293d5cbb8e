//! Problems found in packs, each pointing at a file, line and rule.

use std::fmt;

use serde::Serialize;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The pack is refused.
    Error,
    /// The pack loads; `rules check --deny-warnings` refuses it.
    Warning,
}

/// One problem in one pack file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The pack file (path, or `builtin:NAME` for embedded packs).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The rule the problem belongs to, when there is one.
    pub rule: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}:{}: {severity}", self.file, self.line, self.column)?;
        if let Some(rule) = &self.rule {
            write!(f, " [rule {rule}]")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A source file being compiled: name, text and a line index for turning byte offsets into
/// line and column.
pub struct Source<'s> {
    pub name: &'s str,
    pub text: &'s str,
    line_starts: Vec<usize>,
}

impl<'s> Source<'s> {
    pub fn new(name: &'s str, text: &'s str) -> Source<'s> {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Source { name, text, line_starts }
    }

    /// 1-based (line, column) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let column = self.text.get(start..offset.min(self.text.len())).map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }

    /// The id of the `[[rule]]` that encloses `offset`, read from the raw text. Used for errors
    /// that the TOML parser reports before any rule was built.
    pub fn enclosing_rule_id(&self, offset: usize) -> Option<String> {
        let before = self.text.get(..offset.min(self.text.len()))?;
        let header = before.rfind("[[rule]]")?;
        let after_header = &self.text[header..];
        let section_end = after_header[8..].find("\n[").map_or(after_header.len(), |i| i + 8);
        after_header[..section_end].lines().find_map(|line| {
            let rest = line.trim().strip_prefix("id")?.trim_start().strip_prefix('=')?.trim();
            Some(rest.trim_matches(|c| c == '"' || c == '\'').to_string())
        })
    }

    pub fn diagnostic(&self, severity: Severity, offset: usize, rule: Option<&str>, message: String) -> Diagnostic {
        let (line, column) = self.line_col(offset);
        Diagnostic { severity, file: self.name.to_string(), line, column, rule: rule.map(str::to_string), message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let s = Source::new("f.toml", "a\nbc\nd");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(3), (2, 2));
        assert_eq!(s.line_col(5), (3, 1));
    }

    #[test]
    fn enclosing_rule_is_found_from_text() {
        let text = "[pack]\nid='p'\n[[rule]]\nid = \"p.one\"\nscore = 'x'\n[[rule]]\nid = 'p.two'\n";
        let s = Source::new("f.toml", text);
        assert_eq!(s.enclosing_rule_id(text.find("score").unwrap()).as_deref(), Some("p.one"));
        assert_eq!(s.enclosing_rule_id(3), None);
    }
}
