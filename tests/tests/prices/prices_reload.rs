//! Prices you can trust later (issue 20, item 5): each priced span says which price data priced
//! it (the genai-prices version, a prices file's name and SHA-256 as `sha256sum` prints it,
//! `code`) and, for a converted cost, the rate and its day; a changed prices file takes effect
//! without a restart (on a call, or watched), whole, counted; a bad one is refused and the old
//! prices kept.

use std::path::PathBuf;
use std::time::Duration;

use tracing_ai::{ai_span, AiLayer, ModelPrice, Usage};
use tracing_ai_tests::metrics::points;
use tracing_ai_tests::otel::{attr, export_built, export_with, f64_attr, str_attr};

#[ai_span(kind = "llm", model = "my-fine-tune", provider = "openai")]
fn fine_tune() -> Usage {
    Usage::new(1_000_000, 0)
}

#[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai")]
fn hosted() -> Usage {
    Usage::new(1_000_000, 0)
}

#[ai_span(kind = "llm", model = "in-code", provider = "openai")]
fn in_code() -> Usage {
    Usage::new(1_000_000, 0)
}

/// A prices file of this test's own, `my-fine-tune` at `input` USD a million input tokens.
fn prices_file(name: &str, input: f64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracing-ai-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("prices.toml");
    write_prices(&path, input);
    path
}

fn write_prices(path: &PathBuf, input: f64) {
    std::fs::write(
        path,
        format!("[models.\"my-fine-tune\"]\ninput = {input:?}\noutput = 1.0\n"),
    )
    .expect("writes the prices file");
}

/// What `sha256sum` prints for `path`.
fn sha256sum(path: &PathBuf) -> String {
    let output = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_owned()
}

#[test]
fn each_priced_span_says_which_price_data_priced_it() {
    let path = prices_file("provenance", 0.30);
    let builder = AiLayer::builder()
        .with_prices_file(&path)
        .with_model_price("in-code", ModelPrice::per_million_tokens(0.5, 0.5))
        .with_reporting_currency("GBP", 0.79)
        .with_exchange_rate_date("GBP", "2026-11-30");
    let ((), exported) = export_with(builder, || {
        fine_tune();
        hosted();
        in_code();
    });
    let file = exported.span("chat my-fine-tune");
    assert_eq!(
        str_attr(file, "ai.cost.prices"),
        Some(format!("prices.toml sha256:{}", sha256sum(&path)).into())
    );
    // The bundled data is named by the version of the crate that bundles it: Cargo.lock's.
    let lock = std::fs::read_to_string(tracing_ai_tests::jaeger::repository().join("Cargo.lock"))
        .expect("Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|package| package.contains("name = \"genai-prices\""))
        .and_then(|package| package.split("version = \"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("genai-prices in Cargo.lock");
    let hosted = exported.span("chat gpt-4o-mini");
    assert_eq!(
        str_attr(hosted, "ai.cost.prices"),
        Some(format!("genai-prices {version}").into())
    );
    assert_eq!(
        str_attr(exported.span("chat in-code"), "ai.cost.prices").as_deref(),
        Some("code")
    );
    // Converted at 0.79 GBP a dollar, taken on 30 November.
    for span in [file, hosted] {
        assert_eq!(f64_attr(span, "ai.cost.exchange_rate"), 0.79);
        assert_eq!(
            str_attr(span, "ai.cost.exchange_rate_date").as_deref(),
            Some("2026-11-30")
        );
        let usd = f64_attr(span, "gen_ai.usage.cost");
        assert!((f64_attr(span, "ai.cost.amount") - usd * 0.79).abs() < 1e-12);
    }
}

#[test]
fn a_rate_date_that_is_no_day_is_an_error_that_says_the_format() {
    let error = AiLayer::builder()
        .with_reporting_currency("GBP", 0.79)
        .with_exchange_rate_date("GBP", "30/11/2026")
        .build()
        .expect_err("not a date");
    assert_eq!(
        error.to_string(),
        "the date of the GBP exchange rate is `30/11/2026`; give the day it was taken as \
         YYYY-MM-DD, such as 2026-11-30"
    );
}

#[test]
fn a_changed_prices_file_takes_effect_on_reload_and_a_bad_one_is_refused() {
    let path = prices_file("reload", 1.0);
    let (meters, metrics) = tracing_ai_tests::metrics::in_memory();
    let layer = AiLayer::builder()
        .with_prices_file(&path)
        .with_meter(opentelemetry::metrics::MeterProvider::meter(
            &meters, "test",
        ))
        .build()
        .expect("valid prices");
    let prices = layer.prices();
    let reloads = prices.clone();
    let reload_path = path.clone();
    let ((), exported) = export_built(layer, || {
        tracing::info_span!("request", request.id = "before").in_scope(fine_tune);
        write_prices(&reload_path, 2.0);
        reloads.reload().expect("the new file reads");
        tracing::info_span!("request", request.id = "after").in_scope(fine_tune);
        std::fs::write(&reload_path, "[models.\"my-fine-tune\"]\ninput = \"two\"\n")
            .expect("writes");
        let refused = reloads.reload().expect_err("the bad file is refused");
        assert!(refused.to_string().contains("line 2"), "{refused}");
        tracing::info_span!("request", request.id = "refused").in_scope(fine_tune);
    });
    let cost_of = |request: &str| {
        let span = exported
            .spans_named("chat my-fine-tune")
            .into_iter()
            .find(|span| str_attr(span, "request.id").as_deref() == Some(request))
            .expect("the call");
        (
            f64_attr(span, "gen_ai.usage.cost"),
            str_attr(span, "ai.cost.prices")
                .expect("its price data")
                .into_owned(),
        )
    };
    let (before, data_before) = cost_of("before");
    let (after, data_after) = cost_of("after");
    let (refused, data_refused) = cost_of("refused");
    assert_eq!((before, after, refused), (1.0, 2.0, 2.0));
    assert_ne!(data_before, data_after, "the new file's digest");
    assert_eq!(data_after, data_refused, "the old prices were kept");
    assert_eq!((prices.reloads(), prices.refused_reloads()), (1, 1));

    meters.force_flush().expect("metrics flush");
    let counted = points(&metrics, "ai.prices.reloads");
    for (outcome, count) in [("applied", 1.0), ("refused", 1.0)] {
        let key = vec![(
            tracing_ai::attr::AI_PRICES_RELOAD_OUTCOME.to_owned(),
            outcome.to_owned(),
        )];
        assert_eq!(
            counted.get(&key).map(|(n, _)| *n),
            Some(count),
            "{counted:?}"
        );
    }
}

#[test]
fn a_watched_prices_file_takes_effect_without_a_call() {
    let path = prices_file("watch", 1.0);
    let layer = AiLayer::builder()
        .with_prices_file(&path)
        .build()
        .expect("valid prices");
    let prices = layer.prices();
    let _watch = prices.watch(Duration::from_millis(20));
    let ((), exported) = export_built(layer, || {
        fine_tune();
        write_prices(&path, 3.0);
        tracing_ai_tests::poll_until(
            Duration::from_secs(10),
            Duration::from_millis(20),
            || prices.reloads(),
            |reloads| *reloads >= 1,
        );
        fine_tune();
    });
    let costs: Vec<f64> = exported
        .spans_named("chat my-fine-tune")
        .into_iter()
        .map(|span| f64_attr(span, "gen_ai.usage.cost"))
        .collect();
    assert_eq!(costs, [1.0, 3.0]);
}

#[test]
fn calls_closing_during_reloads_are_priced_whole_by_the_old_or_the_new_prices() {
    let path = prices_file("swap", 1.0);
    let layer = AiLayer::builder()
        .with_prices_file(&path)
        .build()
        .expect("valid prices");
    let prices = layer.prices();
    let ((), exported) = export_built(layer, || {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let dispatch = dispatch.clone();
                scope.spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        for _ in 0..200 {
                            fine_tune();
                        }
                    });
                });
            }
            for round in 0..50 {
                write_prices(&path, if round % 2 == 0 { 2.0 } else { 1.0 });
                prices.reload().expect("reads");
            }
        });
    });
    let calls = exported.spans_named("chat my-fine-tune");
    assert_eq!(calls.len(), 800);
    for span in calls {
        let cost = f64_attr(span, "gen_ai.usage.cost");
        assert!(cost == 1.0 || cost == 2.0, "{cost}");
        assert!(attr(span, "ai.cost.prices").is_some());
    }
}
