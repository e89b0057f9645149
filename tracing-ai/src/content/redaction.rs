//! What is taken out of captured content before it leaves the process.
//!
//! Always: what `crate::secrets` takes out of error messages (API keys by their prefixes,
//! bearer and basic credentials, secret parameters, credentials in URLs), e-mail addresses,
//! and card numbers (13 to 19 digits, spaces or dashes between them, that pass the Luhn
//! check: an order number of 16 digits is left alone unless it happens to pass). Then the
//! user's own patterns, then the user's callback, which sees the text last.

use std::fmt;
use std::sync::{Arc, OnceLock};

use regex::Regex;

use crate::secrets::REDACTED;

/// A user's function over each captured text, after the built-in and pattern redaction.
pub(crate) type Callback = Arc<dyn Fn(&mut String) + Send + Sync>;

/// The redaction applied to every captured text.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    patterns: Vec<Regex>,
    callback: Option<Callback>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.patterns)
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

impl Redactor {
    /// Adds a pattern whose matches are redacted; an error that says what is wrong with it.
    pub(crate) fn add_pattern(&mut self, pattern: &str) -> Result<(), String> {
        let regex = Regex::new(pattern).map_err(|error| {
            format!("the content redaction pattern `{pattern}` is not a valid regular expression: {error}")
        })?;
        self.patterns.push(regex);
        Ok(())
    }

    pub(crate) fn set_callback(&mut self, callback: Callback) {
        self.callback = Some(callback);
    }

    /// `text` with every secret it seems to hold replaced by `[REDACTED]`.
    pub(crate) fn redact(&self, text: &mut String) {
        if let std::borrow::Cow::Owned(redacted) = crate::secrets::redact(text) {
            *text = redacted;
        }
        replace_all(builtin(), text, |matched| {
            matched.contains('@') || luhn_valid(matched)
        });
        for pattern in &self.patterns {
            replace_all(pattern, text, |_| true);
        }
        if let Some(callback) = &self.callback {
            callback(text);
        }
    }
}

/// E-mail addresses and card-number candidates, in one pass.
fn builtin() -> &'static Regex {
    static BUILTIN: OnceLock<Regex> = OnceLock::new();
    BUILTIN.get_or_init(|| {
        Regex::new(concat!(
            r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
            r"|\b(?:\d[ -]?){12,18}\d\b",
        ))
        .unwrap_or_else(|_| unreachable!("the built-in patterns are valid"))
    })
}

/// Replaces the matches of `regex` in `text` that `redact` accepts.
fn replace_all(regex: &Regex, text: &mut String, redact: impl Fn(&str) -> bool) {
    let mut out = String::new();
    let mut copied = 0;
    for found in regex.find_iter(text) {
        if found.is_empty() || !redact(found.as_str()) {
            continue;
        }
        out.push_str(&text[copied..found.start()]);
        out.push_str(REDACTED);
        copied = found.end();
    }
    if copied > 0 {
        out.push_str(&text[copied..]);
        *text = out;
    }
}

/// Whether the digits of `candidate` (spaces and dashes ignored) pass the Luhn check.
fn luhn_valid(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &digit)| {
            if i % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(redactor: &Redactor, text: &str) -> String {
        let mut text = text.to_owned();
        redactor.redact(&mut text);
        text
    }

    #[test]
    fn each_built_in_pattern_is_redacted() {
        let redactor = Redactor::default();
        for (text, expected) in [
            (
                "my key is sk-proj-abcdefghijklmnopqrstuv, thanks",
                "my key is [REDACTED], thanks",
            ),
            (
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc",
                "Authorization: Bearer [REDACTED]",
            ),
            (
                "write to jane.doe+ai@example.co.uk today",
                "write to [REDACTED] today",
            ),
            (
                "card 4111 1111 1111 1111 exp 12/29",
                "card [REDACTED] exp 12/29",
            ),
            ("card 5555-5555-5555-4444.", "card [REDACTED]."),
            ("amex 378282246310005", "amex [REDACTED]"),
            (
                "fetch https://bob:hunter2@db.internal/x",
                "fetch https://[REDACTED]@db.internal/x",
            ),
        ] {
            assert_eq!(redacted(&redactor, text), expected, "{text}");
        }
    }

    #[test]
    fn numbers_that_are_not_cards_and_plain_text_stay() {
        let redactor = Redactor::default();
        for text in [
            "order 1234 5678 9012 3456 shipped",
            "the year 2026 had 365 days",
            "phone +33 1 23 45 67 89",
            "an @ sign alone, and user@localhost",
            "Paris is the capital of France.",
        ] {
            assert_eq!(redacted(&redactor, text), text);
        }
    }

    #[test]
    fn the_users_patterns_then_the_callback() {
        let mut redactor = Redactor::default();
        redactor
            .add_pattern(r"\bEMP-\d{6}\b")
            .expect("a valid pattern");
        redactor.set_callback(Arc::new(|text: &mut String| {
            *text = text.replace("Project Falcon", "[CODENAME]");
        }));
        assert_eq!(
            redacted(&redactor, "EMP-123456 works on Project Falcon"),
            "[REDACTED] works on [CODENAME]"
        );
    }

    #[test]
    fn an_invalid_pattern_is_an_error_that_names_it() {
        let error = Redactor::default()
            .add_pattern("([unclosed")
            .expect_err("not a regex");
        assert!(error.contains("`([unclosed`"), "{error}");
        assert!(error.contains("not a valid regular expression"), "{error}");
    }
}
