//! Prices loaded from a TOML file: used when valid, and every mistake an error that names the
//! line and the field, never a panic and never ignored.

use std::io::Write as _;

use tracing_ai::{ai_span, AiLayer, Usage};
use tracing_ai_tests::otel::{export_with, f64_attr, str_attr};

const VALID: &str = r#"
# Negotiated and self-hosted prices.
[models."my-fine-tune"]
input = 0.30
output = 1.20
cache_read = 0.03

[models."llama-3.1-8b-fp8"]
gpu_hour = 1.58
currency = "GBP"
"#;

#[ai_span(kind = "llm", model = "my-fine-tune", provider = "openai")]
fn fine_tune() -> Usage {
    Usage::new(2_000_000, 1_000_000).with_cache_read(1_000_000)
}

#[test]
fn a_valid_file_prices_its_models() {
    let mut file = tempfile();
    file.1.write_all(VALID.as_bytes()).expect("writes");
    let builder = AiLayer::builder()
        .with_prices_file(&file.0)
        .with_reporting_currency("GBP", 0.79);
    let (_, exported) = export_with(builder, fine_tune);
    let span = exported.span("chat my-fine-tune");
    // 1 M uncached at $0.30, 1 M cache reads at $0.03, 1 M output at $1.20.
    assert!((f64_attr(span, "gen_ai.usage.cost") - 1.53).abs() < 1e-12);
    assert_eq!(
        str_attr(span, "ai.cost.source").as_deref(),
        Some("override")
    );
    let _ = std::fs::remove_file(&file.0);
}

/// One kind of mistake in a prices file, and what the error must say about it.
struct Mistake {
    what: &'static str,
    toml: &'static str,
    line: Option<usize>,
    field: Option<&'static str>,
    words: &'static str,
}

const MISTAKES: &[Mistake] = &[
    Mistake {
        what: "not TOML",
        toml: "[models.\"m\"\ninput = 1\n",
        line: Some(1),
        field: Some("models.\"m\""),
        words: "unclosed table",
    },
    Mistake {
        what: "a word for a number",
        toml: "[models.\"m\"]\ninput = 1.0\noutput = \"cheap\"\n",
        line: Some(3),
        field: Some("models.\"m\".output"),
        words: "invalid type",
    },
    Mistake {
        what: "a misspelt field",
        toml: "[models.\"m\"]\ninput = 1.0\noutptu = 2.0\n",
        line: Some(3),
        field: Some("models.\"m\".outptu"),
        words: "unknown field `outptu`",
    },
    Mistake {
        what: "a negative price",
        toml: "\n[models.\"m\"]\ninput = -1.0\noutput = 2.0\n",
        line: Some(3),
        field: Some("models.\"m\".input"),
        words: "zero or more, not -1",
    },
    Mistake {
        what: "an output price missing",
        toml: "[models.\"m\"]\ninput = 1.0\n",
        line: Some(1),
        field: Some("models.\"m\".output"),
        words: "needs both `input` and `output`",
    },
    Mistake {
        what: "both a GPU and a token price",
        toml: "[models.\"m\"]\ninput = 1.0\noutput = 1.0\ngpu_hour = 2.0\n",
        line: Some(4),
        field: Some("models.\"m\".gpu_hour"),
        words: "either per GPU-hour or per token",
    },
    Mistake {
        what: "a currency that is not a code",
        toml: "[models.\"m\"]\ngpu_hour = 2.0\ncurrency = \"pounds\"\n",
        line: Some(3),
        field: Some("models.\"m\".currency"),
        words: "not a currency code",
    },
    Mistake {
        what: "an unknown top-level table",
        toml: "[model.\"m\"]\ninput = 1.0\noutput = 1.0\n",
        line: Some(1),
        field: Some("model.\"m\""),
        words: "unknown field `model`",
    },
];

#[test]
fn each_kind_of_mistake_names_its_line_and_field() {
    for Mistake {
        what,
        toml,
        line,
        field,
        words,
    } in MISTAKES
    {
        let error = AiLayer::builder()
            .with_prices_toml(*toml)
            .build()
            .expect_err(what);
        let file_error = error
            .prices_file()
            .unwrap_or_else(|| panic!("{what}: {error}"));
        assert_eq!(file_error.line(), *line, "{what}: {error}");
        assert_eq!(file_error.field(), *field, "{what}: {error}");
        let message = error.to_string();
        assert!(
            message.contains(words),
            "{what}: `{message}` lacks `{words}`"
        );
        if let Some(line) = line {
            assert!(
                message.contains(&format!("line {line}")),
                "{what}: {message}"
            );
        }
    }
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let error = AiLayer::builder()
        .with_prices_file("/nonexistent/prices.toml")
        .build()
        .expect_err("the file does not exist");
    let message = error.to_string();
    assert!(
        message.starts_with("prices file `/nonexistent/prices.toml`: cannot be read"),
        "{message}"
    );
}

#[test]
fn a_file_too_large_to_be_a_price_list_is_refused_before_it_is_read_whole() {
    let (path, mut file) = tempfile();
    // Valid TOML, 5 MiB of it: a comment line repeated.
    let line = format!("# {}\n", "x".repeat(1_022));
    for _ in 0..5 * 1_024 {
        std::io::Write::write_all(&mut file, line.as_bytes()).expect("writes");
    }
    drop(file);
    let error = AiLayer::builder()
        .with_prices_file(&path)
        .build()
        .expect_err("too large");
    let _ = std::fs::remove_file(&path);
    assert!(
        error.to_string().contains("is larger than 4 MiB"),
        "{error}"
    );
}

#[test]
fn a_currency_without_a_rate_is_an_error() {
    let error = AiLayer::builder()
        .with_prices_toml("[models.\"m\"]\ngpu_hour = 2.0\ncurrency = \"EUR\"\n")
        .build()
        .expect_err("no EUR rate");
    assert!(
        error.to_string().contains("no exchange rate for EUR"),
        "{error}"
    );
}

fn tempfile() -> (std::path::PathBuf, std::fs::File) {
    let path = std::env::temp_dir().join(format!(
        "tracing-ai-prices-{}-{:?}.toml",
        std::process::id(),
        std::thread::current().id()
    ));
    let file = std::fs::File::create(&path).expect("creates a temporary file");
    (path, file)
}
