//! The seed's RAG request, annotated with `#[ai_span]`: a gateway span per request, then
//! embed, retrieve and generate, with a self-hosted model that falls back to a hosted one.
//!
//! Run with `cargo run --example quickstart`. Model calls are simulated: deterministic,
//! offline, with token counts that depend on the text.
//!
//! With no OTLP endpoint set, each request's tree is printed on stderr with every call's
//! tokens and cost (USD and GBP). With `OTEL_EXPORTER_OTLP_ENDPOINT` set (and
//! `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` or `http/protobuf`), one trace per request goes to that
//! backend instead.
//!
//! Flags: `--requests N` (default 6, two tenants), `--error-rate F` (the fraction of requests
//! whose generation fails for good, default 0), `--seed S` (default 7), `--sample-ratio F`
//! (tail sampling: export every failed request and this share of the others, marked in the
//! console view; default: export all), `--concurrency N` (requests in flight, default 1).

use tracing::Instrument as _;
use tracing_ai::sampling::TailSampling;
use tracing_ai_examples::{layer, rag_query, Random, QUESTIONS};

/// The example's flags.
struct Flags {
    requests: usize,
    error_rate: f64,
    seed: u64,
    sample_ratio: Option<f64>,
    concurrency: usize,
}

impl Flags {
    fn parse() -> Result<Self, String> {
        let mut flags = Flags {
            requests: 6,
            error_rate: 0.0,
            seed: 7,
            sample_ratio: None,
            concurrency: 1,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match flag.as_str() {
                "--requests" => {
                    flags.requests = value("--requests")?
                        .parse()
                        .map_err(|e| format!("--requests: {e}"))?
                }
                "--error-rate" => {
                    flags.error_rate = value("--error-rate")?
                        .parse()
                        .map_err(|e| format!("--error-rate: {e}"))?;
                    if !(0.0..=1.0).contains(&flags.error_rate) {
                        return Err("--error-rate must be between 0 and 1".to_owned());
                    }
                }
                "--seed" => {
                    flags.seed = value("--seed")?
                        .parse()
                        .map_err(|e| format!("--seed: {e}"))?
                }
                "--sample-ratio" => {
                    // Checked by the sampler's builder, whose error names the setting.
                    flags.sample_ratio = Some(
                        value("--sample-ratio")?
                            .parse()
                            .map_err(|e| format!("--sample-ratio: {e}"))?,
                    )
                }
                "--concurrency" => {
                    flags.concurrency = value("--concurrency")?
                        .parse()
                        .map_err(|e| format!("--concurrency: {e}"))?;
                    if flags.concurrency == 0 {
                        return Err("--concurrency must be 1 or more".to_owned());
                    }
                }
                other => {
                    return Err(format!(
                        "unknown flag `{other}`; the flags are --requests N, --error-rate F, \
                         --seed S, --sample-ratio F, --concurrency N"
                    ))
                }
            }
        }
        Ok(flags)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quickstart: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let flags = Flags::parse()?;
    let mut builder = tracing_ai::builder()
        .with_service_name("quickstart")
        .with_service_version(env!("CARGO_PKG_VERSION"))
        // GPU-hour prices for the self-hosted model, costs reported in GBP too.
        .with_layer(layer());
    if let Some(ratio) = flags.sample_ratio {
        builder = builder.with_sampling(TailSampling::builder().with_sample_ratio(ratio));
    }
    let _guard = builder.try_init()?;

    let mut random = Random(flags.seed);
    let tenants = [("acme", "search"), ("globex", "support-bot")];
    let mut seen = std::collections::HashSet::new();
    let mut in_flight = tokio::task::JoinSet::new();
    for n in 0..flags.requests {
        let (tenant, feature) = tenants[n % tenants.len()];
        let question = QUESTIONS[(random.next_u64() % QUESTIONS.len() as u64) as usize];
        let fail = random.unit() < flags.error_rate;
        let seen_before = !seen.insert((tenant, question));
        let root = tracing::info_span!(
            "rag.query",
            tenant.id = tenant,
            feature.id = feature,
            request.id = %format_args!("req-{n:04}"),
            user.id = %format_args!("user-{}", random.next_u64() % 5),
            otel.status_code = tracing::field::Empty,
            otel.status_description = tracing::field::Empty,
        );
        in_flight.spawn(async move {
            let answer = rag_query(question, seen_before, fail)
                .instrument(root.clone())
                .await;
            if let Err(error) = answer {
                // Failed for good: the request's span says so, for the backend's error view.
                root.record("otel.status_code", "ERROR");
                root.record("otel.status_description", error.to_string());
            }
        });
        while in_flight.len() >= flags.concurrency {
            in_flight.join_next().await;
        }
    }
    while in_flight.join_next().await.is_some() {}
    Ok(())
}
