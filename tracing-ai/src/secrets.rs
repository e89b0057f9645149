//! Secrets taken out of text before it leaves the process: an error's message becomes
//! `otel.status_description` and a console line, and an exporter's error names its endpoint,
//! and either may hold an API key a caller or an operator put there.
//!
//! What is recognised (each replaced by `[REDACTED]`):
//!
//! - the user-info of a URL: `https://user:password@host` → `https://[REDACTED]@host`;
//! - the value of a parameter whose name says it is secret (`key`, `api_key`, `api-key`,
//!   `apikey`, `token`, `access_token`, `secret`, `password`, `signature`, `sig`, `auth`,
//!   `credential` and names ending in them), in a query or in `name=value` text;
//! - the credentials after `Bearer ` or `Basic `;
//! - API keys by their published prefixes: `sk-` / `sk_` (OpenAI, Anthropic, Stripe), `rk_`,
//!   `pk_`, `ghp_` / `gho_` / `github_pat_` (GitHub), `glpat-` (GitLab), `xoxb-` / `xoxp-`
//!   (Slack), `hf_` (Hugging Face), `AIza` (Google), `AKIA` (AWS), when at least 16
//!   characters follow.
//!
//! It errs on the side of removing too much: the aim is that no credential is exported, not
//! that every message stays whole.

use std::borrow::Cow;
use std::ops::Range;

/// What stands in for a secret.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// Names of parameters whose value is a secret, by how the name ends (lowercase).
const SECRET_NAMES: &[&str] = &[
    "key",
    "apikey",
    "token",
    "secret",
    "password",
    "passwd",
    "signature",
    "sig",
    "auth",
    "credential",
    "credentials",
];

const KEY_PREFIXES: &[&str] = &[
    "sk-",
    "sk_",
    "rk_",
    "pk_",
    "ghp_",
    "gho_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "hf_",
    "AIza",
    "AKIA",
];

/// How many characters must follow a key prefix for the word to count as a key.
const MIN_KEY_TAIL: usize = 16;

/// `text` with every secret it seems to hold replaced by `[REDACTED]`; borrowed when there is
/// none.
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    let mut secrets = Vec::new();
    user_info(text, &mut secrets);
    parameters(text, &mut secrets);
    schemes(text, &mut secrets);
    keys(text, &mut secrets);
    if secrets.is_empty() {
        return Cow::Borrowed(text);
    }
    secrets.sort_by_key(|range| range.start);
    let mut redacted = String::with_capacity(text.len());
    let mut copied = 0;
    for secret in secrets {
        if secret.end <= copied {
            continue;
        }
        let start = secret.start.max(copied);
        redacted.push_str(&text[copied..start]);
        if start == secret.start {
            redacted.push_str(REDACTED);
        }
        copied = secret.end;
    }
    redacted.push_str(&text[copied..]);
    Cow::Owned(redacted)
}

/// An endpoint as it may be printed: scheme, host, port and path, without user-info, query
/// or fragment.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http", feature = "redis"))]
pub(crate) fn endpoint(url: &str) -> String {
    let url = url.trim();
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    match url.find("://") {
        Some(scheme_end) => {
            let authority = scheme_end + 3;
            let rest = &url[authority..];
            let host_end = rest.find('/').unwrap_or(rest.len());
            match rest[..host_end].rfind('@') {
                Some(at) => format!("{}{}", &url[..authority], &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

/// A character of a word that can be a secret: a key, a token, a password.
fn is_secret_char(c: char) -> bool {
    !(c.is_whitespace()
        || matches!(
            c,
            '&' | '#' | '"' | '\'' | '`' | ',' | ';' | ')' | ']' | '}' | '>' | '<'
        ))
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The end of the run of characters from `start` that satisfy `keep`.
fn run_end(text: &str, start: usize, keep: impl Fn(char) -> bool) -> usize {
    text[start..]
        .char_indices()
        .find(|(_, c)| !keep(*c))
        .map_or(text.len(), |(offset, _)| start + offset)
}

fn user_info(text: &str, secrets: &mut Vec<Range<usize>>) {
    for (at, _) in text.match_indices("://") {
        let start = at + 3;
        let end = run_end(text, start, |c| {
            !(c.is_whitespace() || matches!(c, '/' | '?' | '#' | '"' | '\'' | ')' | '>'))
        });
        if let Some(sign) = text[start..end].rfind('@') {
            secrets.push(start..start + sign);
        }
    }
}

fn parameters(text: &str, secrets: &mut Vec<Range<usize>>) {
    for (equals, _) in text.match_indices('=') {
        let name_start = text[..equals]
            .char_indices()
            .rev()
            .find(|(_, c)| !(is_word_char(*c) || *c == '.'))
            .map_or(0, |(index, c)| index + c.len_utf8());
        let name = text[name_start..equals].to_ascii_lowercase();
        let secret_name = is_secret_name(&name);
        if secret_name {
            let start = equals + 1;
            let end = run_end(text, start, is_secret_char);
            if end > start {
                secrets.push(start..end);
            }
        }
    }
}

/// Whether a parameter so named holds a secret: one of the names, or a name ending in one
/// after a separator (`api_key`, `x-goog-api-key`); the longer names also without one
/// (`accesstoken`), the short ones not (`monkey`).
fn is_secret_name(name: &str) -> bool {
    SECRET_NAMES
        .iter()
        .any(|secret| match name.strip_suffix(secret) {
            Some("") => true,
            Some(before) => before.ends_with(['_', '-', '.']) || secret.len() > 4,
            None => false,
        })
}

fn schemes(text: &str, secrets: &mut Vec<Range<usize>>) {
    let lower = text.to_ascii_lowercase();
    for scheme in ["bearer ", "basic "] {
        for (at, _) in lower.match_indices(scheme) {
            let start = at + scheme.len();
            let end = run_end(text, start, is_secret_char);
            if end > start {
                secrets.push(start..end);
            }
        }
    }
}

fn keys(text: &str, secrets: &mut Vec<Range<usize>>) {
    for prefix in KEY_PREFIXES {
        for (at, _) in text.match_indices(prefix) {
            let at_word_start = text[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !is_word_char(c));
            let end = run_end(text, at, is_word_char);
            if at_word_start && end - at >= prefix.len() + MIN_KEY_TAIL {
                secrets.push(at..end);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn secrets_are_replaced_and_the_rest_kept() {
        for (text, expected) in [
            (
                "error sending request for url (https://user:hunter2@api.example.com/v1?api_key=sk-abc&model=x)",
                "error sending request for url (https://[REDACTED]@api.example.com/v1?api_key=[REDACTED]&model=x)",
            ),
            (
                "401: invalid key sk-proj-abcdefghijklmnopqrstuv provided",
                "401: invalid key [REDACTED] provided",
            ),
            (
                "header Authorization: Bearer eyJhbGciOi.payload.sig was refused",
                "header Authorization: Bearer [REDACTED] was refused",
            ),
            ("token=abc123; password=p@ss", "token=[REDACTED]; password=[REDACTED]"),
            ("x-goog-api-key=AIzaSyA0123456789abcdefgh", "x-goog-api-key=[REDACTED]"),
            ("monkey=banana", "monkey=banana"),
            ("rate limit exceeded, retry after 20s", "rate limit exceeded, retry after 20s"),
            ("sk-short", "sk-short"),
            ("ünïcode key=välue ok", "ünïcode key=[REDACTED] ok"),
        ] {
            assert_eq!(redact(text), expected, "{text}");
        }
    }

    #[test]
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    fn an_endpoint_is_shown_without_credentials() {
        use super::endpoint;
        assert_eq!(
            endpoint("http://user:password@collector:4318/v1/traces?api_key=abc#x"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(endpoint("http://127.0.0.1:4317"), "http://127.0.0.1:4317");
        assert_eq!(endpoint("collector:4317?key=1"), "collector:4317");
    }
}
