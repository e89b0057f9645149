//! The real async-openai client (0.43) against a local server that speaks OpenAI's wire
//! format: its responses, stream chunks and errors need no glue (issue 11).

use async_openai::config::{Config as _, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    ChatCompletionResponseStream, ChatCompletionStreamOptions, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs, CreateChatCompletionResponse,
};
use async_openai::types::embeddings::{CreateEmbeddingRequestArgs, CreateEmbeddingResponse};
use async_openai::Client;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;
use tokio_stream::StreamExt as _;
use tracing_ai::content::ContentCapture;
use tracing_ai::{ai_span, AiLayer};
use tracing_ai_tests::metrics::points;
use tracing_ai_tests::model_server::{
    ModelServer, CACHED_TOKENS, COMPLETION_TOKENS, PROMPT_TOKENS,
};
use tracing_ai_tests::otel::{attr, export_with, f64_attr, json_attr, str_attr};

fn client(server: &ModelServer) -> Client<OpenAIConfig> {
    Client::with_config(
        OpenAIConfig::new()
            .with_api_base(server.api_base())
            .with_api_key("sk-test"),
    )
}

fn request(model: &str, include_usage: Option<bool>) -> CreateChatCompletionRequest {
    let mut request = CreateChatCompletionRequestArgs::default();
    request
        .model(model)
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content("What is a span?")
            .build()
            .expect("a message")
            .into()]);
    if let Some(include_usage) = include_usage {
        request.stream_options(ChatCompletionStreamOptions {
            include_usage: Some(include_usage),
            ..Default::default()
        });
    }
    request.build().expect("a request")
}

#[ai_span(
    kind = "llm",
    model = request.model.as_str(),
    provider = "openai",
    endpoint = client.config().api_base()
)]
async fn chat(
    client: &Client<OpenAIConfig>,
    request: CreateChatCompletionRequest,
) -> Result<CreateChatCompletionResponse, OpenAIError> {
    client.chat().create(request).await
}

/// The same call, its request recorded as content (when capture is on).
#[ai_span(kind = "llm", model = request.model.as_str(), provider = "openai", input = request)]
async fn chat_with_content(
    client: &Client<OpenAIConfig>,
    request: CreateChatCompletionRequest,
) -> Result<CreateChatCompletionResponse, OpenAIError> {
    client.chat().create(request).await
}

#[ai_span(kind = "llm", model = request.model.as_str(), provider = "openai", stream)]
async fn chat_stream(
    client: &Client<OpenAIConfig>,
    request: CreateChatCompletionRequest,
) -> Result<ChatCompletionResponseStream, OpenAIError> {
    client.chat().create_stream(request).await
}

/// A gpt-4o-mini stream from `server` that ends with its usage chunk.
async fn stream_with_usage(server: &ModelServer) -> ChatCompletionResponseStream {
    chat_stream(&client(server), request("gpt-4o-mini", Some(true)))
        .await
        .expect("a stream")
}

#[ai_span(
    kind = "embedding",
    model = "text-embedding-3-small",
    provider = "openai"
)]
async fn embed(client: &Client<OpenAIConfig>) -> Result<CreateEmbeddingResponse, OpenAIError> {
    let request = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input("What is a span?")
        .build()
        .expect("a request");
    client.embeddings().create(request).await
}

fn int(span: &SpanData, key: &str) -> i64 {
    match attr(span, key) {
        Some(opentelemetry::Value::I64(value)) => *value,
        other => panic!("`{key}` of `{}` is {other:?}", span.name),
    }
}

/// gpt-4o-mini: 314 uncached prompt tokens at $0.15 / M, 1,536 cached at $0.075 / M, 120
/// completion tokens at $0.60 / M.
const COST: f64 = 0.0002343;

fn assert_priced_completion(span: &SpanData) {
    assert_eq!(int(span, "gen_ai.usage.input_tokens"), PROMPT_TOKENS as i64);
    assert_eq!(
        int(span, "gen_ai.usage.cache_read.input_tokens"),
        CACHED_TOKENS as i64
    );
    assert_eq!(
        int(span, "gen_ai.usage.output_tokens"),
        COMPLETION_TOKENS as i64
    );
    assert!(
        (f64_attr(span, "gen_ai.usage.cost") - COST).abs() < 1e-12,
        "{}",
        f64_attr(span, "gen_ai.usage.cost")
    );
}

#[test]
fn a_chat_completion_reports_its_usage_with_cached_tokens() {
    let server = ModelServer::start();
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            chat(&client(&server), request("gpt-4o-mini", None))
                .await
                .expect("a completion");
        })
    });
    let span = exported.span("chat gpt-4o-mini");
    assert_priced_completion(span);
    assert_eq!(
        str_attr(span, "gen_ai.response.model").as_deref(),
        Some("gpt-4o-mini-2024-07-18")
    );
    assert_eq!(
        str_attr(span, "gen_ai.response.id").as_deref(),
        Some("chatcmpl-1")
    );
}

#[test]
fn the_requests_parameters_are_recorded_without_content_capture() {
    let server = ModelServer::start();
    let mut request = request("gpt-4o-mini", None);
    request.temperature = Some(0.25);
    request.top_p = Some(0.5);
    request.max_completion_tokens = Some(100);
    request.n = Some(1);
    request.stop = Some(async_openai::types::chat::StopConfiguration::StringArray(
        vec!["\n\n".into(), "END".into()],
    ));
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            chat_with_content(&client(&server), request)
                .await
                .expect("a completion");
        })
    });
    let span = exported.span("chat gpt-4o-mini");
    assert_eq!(f64_attr(span, "gen_ai.request.temperature"), 0.25);
    assert_eq!(f64_attr(span, "gen_ai.request.top_p"), 0.5);
    assert_eq!(int(span, "gen_ai.request.max_tokens"), 100);
    assert_eq!(int(span, "gen_ai.request.choice.count"), 1);
    assert_eq!(
        attr(span, "gen_ai.request.stop_sequences"),
        Some(&opentelemetry::Value::Array(opentelemetry::Array::String(
            vec!["\n\n".into(), "END".into()]
        )))
    );
    // Not set by the request: not exported.
    assert_eq!(attr(span, "gen_ai.request.seed"), None);
    assert_eq!(attr(span, "gen_ai.request.frequency_penalty"), None);
    // And no content, which is off by default.
    assert_eq!(attr(span, "gen_ai.input.messages"), None);
    assert_priced_completion(span);
}

/// gpt-5's price of a completion of the model server at OpenAI's published prices per
/// million tokens: `input` for the uncached prompt tokens, `cached` for the cached ones,
/// `output` for the completion tokens.
fn gpt_5_completion(input: f64, cached: f64, output: f64) -> f64 {
    let uncached = (PROMPT_TOKENS - CACHED_TOKENS) as f64;
    (uncached * input + CACHED_TOKENS as f64 * cached + COMPLETION_TOKENS as f64 * output) / 1e6
}

/// The service tier a request asks for and the one its response says served it are on the
/// span, and the call is priced at the tier that served it: flex at half gpt-5's standard
/// prices, priority at twice them, `auto` (served at `default`) and no tier at the standard
/// ones (OpenAI's price table for gpt-5: $1.25 / $0.125 / $10 per million, flex $0.625 /
/// $0.0625 / $5, priority $2.50 / $0.25 / $20).
#[test]
fn a_completion_is_priced_at_the_service_tier_that_served_it() {
    use async_openai::types::chat::ServiceTier;
    let server = ModelServer::start();
    let tiers = [
        None,
        Some(ServiceTier::Flex),
        Some(ServiceTier::Priority),
        Some(ServiceTier::Auto),
    ];
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            for tier in tiers.clone() {
                let mut request = request("gpt-5", None);
                request.service_tier = tier;
                chat_with_content(&client(&server), request)
                    .await
                    .expect("a completion");
            }
        })
    });
    let mut spans: Vec<&SpanData> = exported
        .spans
        .iter()
        .filter(|span| span.name == "chat gpt-5")
        .collect();
    spans.sort_by_key(|span| span.start_time);
    let seen: Vec<_> = spans
        .iter()
        .map(|span| {
            (
                str_attr(span, "openai.request.service_tier").map(String::from),
                str_attr(span, "openai.response.service_tier").map(String::from),
                str_attr(span, "ai.cost.price_context").map(String::from),
                (f64_attr(span, "gen_ai.usage.cost") * 1e9).round() / 1e9,
            )
        })
        .collect();
    let some = |text: &str| Some(text.to_owned());
    let standard = gpt_5_completion(1.25, 0.125, 10.0);
    assert_eq!(
        seen,
        [
            (None, None, None, standard),
            (
                some("flex"),
                some("flex"),
                some("service_tier=flex"),
                gpt_5_completion(0.625, 0.0625, 5.0)
            ),
            (
                some("priority"),
                some("priority"),
                some("service_tier=priority"),
                gpt_5_completion(2.5, 0.25, 20.0)
            ),
            (
                some("auto"),
                some("default"),
                some("service_tier=default"),
                standard
            ),
        ]
    );
}

/// A stream says the tier that served it on its last chunk, with its usage; and a layer that
/// reads `tracing` fields prices it as one that writes onto the OpenTelemetry span does.
#[test]
fn a_stream_is_priced_at_the_tier_its_last_chunk_says() {
    use async_openai::types::chat::ServiceTier;
    let server = ModelServer::start();
    for builder in [
        AiLayer::builder(),
        AiLayer::builder().with_tracing_fields(true),
    ] {
        let (_, exported) = export_with(builder, || {
            tracing_ai_tests::block_on(async {
                let mut request = request("gpt-5", Some(true));
                request.service_tier = Some(ServiceTier::Flex);
                let stream = chat_stream(&client(&server), request)
                    .await
                    .expect("a stream");
                let chunks: Vec<_> = stream.collect().await;
                assert!(chunks.iter().all(Result::is_ok), "{chunks:?}");
            })
        });
        let span = exported.span("chat gpt-5");
        assert_eq!(
            str_attr(span, "openai.response.service_tier").as_deref(),
            Some("flex")
        );
        assert_eq!(
            str_attr(span, "ai.cost.price_context").as_deref(),
            Some("service_tier=flex")
        );
        let cost = f64_attr(span, "gen_ai.usage.cost");
        assert!(
            (cost - gpt_5_completion(0.625, 0.0625, 5.0)).abs() < 1e-12,
            "{cost}"
        );
    }
}

#[test]
fn a_completions_messages_are_content_in_the_conventions_schema_when_captured() {
    let server = ModelServer::start();
    let mut request = request("gpt-4o-mini", None);
    request.messages.insert(
        0,
        ChatCompletionRequestSystemMessageArgs::default()
            .content("Answer in one sentence; my e-mail is ops@example.com.")
            .build()
            .expect("a message")
            .into(),
    );
    let (_, exported) = export_with(
        AiLayer::builder().with_content_capture(ContentCapture::SpanOnly),
        || {
            tracing_ai_tests::block_on(async {
                chat_with_content(&client(&server), request)
                    .await
                    .expect("a completion");
            })
        },
    );
    let span = exported.span("chat gpt-4o-mini");
    assert_eq!(
        json_attr(span, "gen_ai.input.messages"),
        serde_json::json!([
            {"role": "system", "parts": [{"type": "text", "content": "Answer in one sentence; my e-mail is [REDACTED]."}]},
            {"role": "user", "parts": [{"type": "text", "content": "What is a span?"}]},
        ])
    );
    assert_eq!(
        json_attr(span, "gen_ai.output.messages"),
        serde_json::json!([{
            "role": "assistant",
            "parts": [{"type": "text", "content": "A span is a unit of work."}],
            "finish_reason": "stop",
        }])
    );
    // And priced as ever.
    assert_priced_completion(span);
}

#[test]
fn errors_say_what_kind_of_failure_they_are() {
    let server = ModelServer::start();
    let (meters, meters_out) = tracing_ai_tests::metrics::in_memory();
    let layer = AiLayer::builder().with_meter(meters.meter("test"));
    let (_, exported) = export_with(layer, || {
        tracing_ai_tests::block_on(async {
            let client = client(&server);
            assert!(chat(&client, request("rate-limited", None)).await.is_err());
            assert!(chat(&client, request("broken", None)).await.is_err());
        })
    });
    let limited = exported.span("chat rate-limited");
    assert_eq!(
        str_attr(limited, "error.type").as_deref(),
        Some("rate_limit_exceeded")
    );
    assert!(matches!(limited.status, Status::Error { .. }));
    // async-openai does not read the body of a 5xx (OpenAI does not promise JSON there): the
    // HTTP status is the kind.
    let broken = exported.span("chat broken");
    assert_eq!(str_attr(broken, "error.type").as_deref(), Some("500"));
    // The server the client was configured with, on the span and on the metric.
    let port = i64::from(server.address.port());
    for span in [limited, broken] {
        assert_eq!(
            str_attr(span, "server.address").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(int(span, "server.port"), port);
    }
    // The duration metric groups the failures by the same kind.
    meters.force_flush().expect("metrics flush");
    let durations = points(&meters_out, "gen_ai.client.inference.duration");
    let kinds: Vec<&str> = durations
        .keys()
        .filter_map(|attributes| {
            attributes
                .iter()
                .find(|(key, _)| key == "error.type")
                .map(|(_, value)| value.as_str())
        })
        .collect();
    assert!(kinds.contains(&"rate_limit_exceeded"), "{durations:?}");
    assert!(kinds.contains(&"500"), "{durations:?}");
    let port = port.to_string();
    for attributes in durations.keys() {
        let value = |key: &str| {
            attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("server.address"), Some("127.0.0.1"), "{attributes:?}");
        assert_eq!(value("server.port"), Some(port.as_str()), "{attributes:?}");
    }
}

#[test]
fn a_stream_with_usage_is_priced_from_its_last_chunk() {
    let server = ModelServer::start();
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            let mut stream = stream_with_usage(&server).await;
            let mut chunks = 0;
            while let Some(chunk) = stream.next().await {
                chunk.expect("a chunk");
                chunks += 1;
            }
            assert_eq!(chunks, 5, "four deltas and the usage chunk");
        })
    });
    let span = exported.span("chat gpt-4o-mini");
    assert_priced_completion(span);
    assert_streamed_to_its_end(span);
}

/// `span` is a stream's, read to its end: its first chunk timed, `stop` as its finish reason,
/// not cancelled.
fn assert_streamed_to_its_end(span: &SpanData) {
    assert_eq!(attr(span, "gen_ai.request.stream"), Some(&true.into()));
    assert!(f64_attr(span, "gen_ai.response.time_to_first_chunk") > 0.0);
    assert_eq!(
        attr(span, "gen_ai.response.finish_reasons"),
        Some(&opentelemetry::Value::Array(opentelemetry::Array::String(
            vec!["stop".into()]
        )))
    );
    assert_eq!(attr(span, "ai.stream.cancelled"), None);
}

#[test]
fn a_streams_answer_is_captured_from_its_deltas() {
    let server = ModelServer::start();
    let (_, exported) = export_with(
        AiLayer::builder().with_content_capture(ContentCapture::SpanOnly),
        || {
            tracing_ai_tests::block_on(async {
                let mut stream = stream_with_usage(&server).await;
                while let Some(chunk) = stream.next().await {
                    chunk.expect("a chunk");
                }
            })
        },
    );
    let span = exported.span("chat gpt-4o-mini");
    let output: serde_json::Value =
        serde_json::from_str(&str_attr(span, "gen_ai.output.messages").expect("captured"))
            .expect("JSON");
    assert_eq!(
        output,
        serde_json::json!([{
            "role": "assistant",
            "parts": [{"type": "text", "content": "word0 word1 word2 word3 "}],
            "finish_reason": "stop",
        }])
    );
    assert_priced_completion(span);
}

#[test]
fn a_stream_without_usage_or_cut_midway_is_never_free() {
    let server = ModelServer::start();
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            let client = client(&server);
            let mut stream = chat_stream(&client, request("gpt-4o-mini", None))
                .await
                .expect("a stream");
            while stream.next().await.is_some() {}
            let mut cut = chat_stream(&client, request("cut-midway", Some(true)))
                .await
                .expect("a stream");
            while cut.next().await.is_some() {}
        })
    });
    let without = exported.span("chat gpt-4o-mini");
    assert_eq!(attr(without, "gen_ai.usage.cost"), None);
    let reason = str_attr(without, "ai.cost.unpriced").expect("unpriced");
    assert!(reason.contains("include_usage"), "{reason}");
    let cut = exported.span("chat cut-midway");
    assert_eq!(attr(cut, "gen_ai.usage.cost"), None);
    assert!(str_attr(cut, "ai.cost.unpriced").is_some());
    assert!(
        matches!(cut.status, Status::Error { .. }),
        "{:?}",
        cut.status
    );
}

#[test]
fn a_stream_dropped_after_its_first_chunk_keeps_what_its_chunks_said() {
    let server = ModelServer::start();
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            let mut stream = stream_with_usage(&server).await;
            stream
                .next()
                .await
                .expect("a first chunk")
                .expect("not an error");
            // The client goes away, as an HTTP client that hangs up does.
            drop(stream);
        })
    });
    let span = exported.span("chat gpt-4o-mini");
    assert_eq!(attr(span, "ai.stream.cancelled"), Some(&true.into()));
    assert_eq!(
        str_attr(span, "gen_ai.response.model").as_deref(),
        Some("gpt-4o-mini")
    );
    assert_eq!(
        str_attr(span, "gen_ai.response.id").as_deref(),
        Some("chatcmpl-stream-1")
    );
    assert_eq!(attr(span, "gen_ai.usage.cost"), None);
    let reason = str_attr(span, "ai.cost.unpriced").expect("unpriced, not free");
    assert!(
        reason.contains("cancelled before the provider reported usage"),
        "{reason}"
    );
}

#[test]
fn an_embedding_reports_its_usage() {
    let server = ModelServer::start();
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            embed(&client(&server)).await.expect("an embedding");
        })
    });
    let span = exported.span("embeddings text-embedding-3-small");
    assert_eq!(int(span, "gen_ai.usage.input_tokens"), 8);
    // $0.02 / M.
    assert!((f64_attr(span, "gen_ai.usage.cost") - 0.000_000_16).abs() < 1e-15);
}

#[test]
fn retries_are_one_span_per_attempt_with_the_waits_between_them() {
    use async_openai::middleware::retry::OpenAIRetryLayer;
    use async_openai::middleware::ReqwestService;
    use tower_layer::Layer as _;
    use tracing_ai::integrations::async_openai::AttemptLayer;
    use tracing_ai_tests::model_server::assert_retried_flaky_call;

    let server = ModelServer::start();
    // The retry layer over the attempt layer: each HTTP attempt passes through the latter.
    let service = OpenAIRetryLayer::default()
        .layer(AttemptLayer.layer(ReqwestService::new(reqwest::Client::new())));
    let client = client(&server).with_http_service(service);
    let builder = AiLayer::builder().with_model_price(
        "flaky-retries",
        tracing_ai::ModelPrice::per_million_tokens(1.0, 2.0),
    );
    let (answer, exported) = export_with(builder, || {
        tracing_ai_tests::block_on(chat(&client, request("flaky-retries", None)))
    });
    answer.expect("the third attempt answers");

    let attempts = assert_retried_flaky_call(&exported, "chat flaky-retries");
    // The waits are async-openai's backoff: 100 ms, then 200 ms.
    tracing_ai_tests::otel::assert_waits(&attempts, &[0.1, 0.2], 0.25);
}

/// A Responses API request of gpt-5, with the web search tool when `search` says.
fn response_request(
    search: bool,
) -> Result<async_openai::types::responses::CreateResponse, OpenAIError> {
    use async_openai::types::responses::{CreateResponseArgs, Tool, WebSearchTool};
    let mut request = CreateResponseArgs::default();
    request.model("gpt-5").input("What is a span?");
    if search {
        request.tools(vec![Tool::WebSearch(WebSearchTool::default())]);
    }
    request.build()
}

/// A Responses API call, with the web search tool when `search` says.
#[ai_span(kind = "llm", model = "gpt-5", provider = "openai")]
async fn respond(
    client: &Client<OpenAIConfig>,
    search: bool,
) -> Result<async_openai::types::responses::Response, OpenAIError> {
    client.responses().create(response_request(search)?).await
}

/// The same call, streamed.
#[ai_span(kind = "llm", model = "gpt-5", provider = "openai", stream)]
async fn respond_streamed(
    client: &Client<OpenAIConfig>,
    search: bool,
) -> Result<async_openai::types::responses::ResponseStream, OpenAIError> {
    client
        .responses()
        .create_stream(response_request(search)?)
        .await
}

/// The Responses API's answer is priced with no glue: its cached input, its reasoning output,
/// and each `web_search_call` it output as one web search, at OpenAI's $10 per thousand for
/// gpt-5 (12,000 tokens in of which 4,000 cached, 900 out: $0.0195; two searches: $0.02 more).
#[test]
fn a_responses_api_answer_is_priced_with_its_web_searches() {
    let server = ModelServer::start();
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            for search in [false, true] {
                respond(&client(&server), search).await.expect("a response");
            }
        })
    });
    for span in responses_priced(&exported) {
        assert_eq!(attr(span, "gen_ai.request.stream"), None);
    }
}

/// The two gpt-5 calls of the Responses API in `exported`, the first without the web search
/// tool, the second with it, asserted priced as OpenAI bills them: 12,000 tokens in of which
/// 4,000 cached, 900 out of which 500 reasoning, $0.0195; two web searches, $0.02 more.
fn responses_priced(exported: &tracing_ai_tests::otel::Exported) -> Vec<&SpanData> {
    use tracing_ai_tests::model_server::{RESPONSES_USAGE, WEB_SEARCHES};
    let mut spans: Vec<&SpanData> = exported.spans_named("chat gpt-5");
    spans.sort_by_key(|span| span.start_time);
    assert_eq!(spans.len(), 2);
    let [input, cached, output, reasoning] = RESPONSES_USAGE.map(|count| count as i64);
    let searched = Some(WEB_SEARCHES as i64);
    for (span, searches, usd) in [(spans[0], None, 0.0195), (spans[1], searched, 0.0395)] {
        let cost = f64_attr(span, "gen_ai.usage.cost");
        assert!((cost - usd).abs() < 1e-12, "{cost} != {usd}");
        let count = |key: &str| match attr(span, key) {
            Some(opentelemetry::Value::I64(count)) => Some(*count),
            _ => None,
        };
        assert_eq!(count("gen_ai.usage.input_tokens"), Some(input));
        assert_eq!(count("gen_ai.usage.cache_read.input_tokens"), Some(cached));
        assert_eq!(count("gen_ai.usage.output_tokens"), Some(output));
        assert_eq!(
            count("gen_ai.usage.reasoning.output_tokens"),
            Some(reasoning)
        );
        assert_eq!(count("ai.usage.web_searches"), searches);
        assert_eq!(
            str_attr(span, "gen_ai.response.model").as_deref(),
            Some("gpt-5-2025-08-07")
        );
        assert_eq!(
            str_attr(span, "gen_ai.response.id").as_deref(),
            Some("resp_1")
        );
    }
    spans
}

/// A streamed Responses API answer is priced from its last event, `response.completed`, which
/// carries the whole response: the same tokens, web searches and cost as the answer in one
/// piece, with no glue; `stop` as its finish reason.
#[test]
fn a_streamed_responses_api_answer_is_priced_from_its_completed_event() {
    use tracing_ai_tests::model_server::STREAM_CHUNKS;
    let server = ModelServer::start();
    let (_, exported) = export_with(AiLayer::builder(), || {
        tracing_ai_tests::block_on(async {
            for search in [false, true] {
                let mut stream = respond_streamed(&client(&server), search)
                    .await
                    .expect("a stream");
                let mut events = 0;
                while let Some(event) = stream.next().await {
                    event.expect("an event");
                    events += 1;
                }
                assert_eq!(events, STREAM_CHUNKS + 2, "created, the deltas, completed");
            }
        })
    });
    for span in responses_priced(&exported) {
        assert_streamed_to_its_end(span);
    }
}

/// The events of a Responses API stream that end it otherwise: a failed response says its
/// error code and message, an `error` event its code (`stream_error` without one), an
/// incomplete one why (`length` for the output limit).
#[test]
fn a_responses_streams_failures_and_cut_answers_say_why() {
    use async_openai::types::responses::ResponseStreamEvent;
    use tracing_ai::stream::StreamChunk;

    let response = |status: &str, extra: serde_json::Value| {
        let mut response = serde_json::json!({
            "id": "resp_1",
            "object": "response",
            "created_at": 1_764_000_000,
            "status": status,
            "model": "gpt-5-2025-08-07",
            "output": [],
        });
        for (key, value) in extra.as_object().expect("an object") {
            response[key] = value.clone();
        }
        response
    };
    let event = |value: serde_json::Value| -> ResponseStreamEvent {
        serde_json::from_value(value).expect("an event of the Responses API")
    };
    let failed = event(serde_json::json!({
        "type": "response.failed",
        "sequence_number": 3,
        "response": response("failed", serde_json::json!({
            "error": { "code": "rate_limit_exceeded", "message": "slow down" }
        })),
    }));
    let (code, message) = failed.failure().expect("a failure");
    assert_eq!(code, "rate_limit_exceeded");
    assert_eq!(message.as_deref(), Some("slow down"));
    assert_eq!(failed.response_model().as_deref(), Some("gpt-5-2025-08-07"));

    let error = event(serde_json::json!({
        "type": "error", "sequence_number": 1, "code": null, "message": "boom", "param": null
    }));
    let (code, message) = error.failure().expect("a failure");
    assert_eq!(code, "stream_error");
    assert_eq!(message.as_deref(), Some("boom"));

    let incomplete = event(serde_json::json!({
        "type": "response.incomplete",
        "sequence_number": 9,
        "response": response("incomplete", serde_json::json!({
            "incomplete_details": { "reason": "max_output_tokens" }
        })),
    }));
    assert_eq!(incomplete.finish_reason().as_deref(), Some("length"));
    assert!(incomplete.failure().is_none());
    assert!(
        incomplete.usage().is_none(),
        "no usage reported, none made up"
    );
}
