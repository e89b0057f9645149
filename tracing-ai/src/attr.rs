//! The names of every attribute tracing-ai exports, one constant each.
//!
//! Spans written by hand use them as field names to be understood by [`AiLayer`] and by
//! backends exactly like the spans of [`#[ai_span]`](crate::ai_span):
//!
//! ```
//! use tracing_ai::attr;
//!
//! let span = tracing::info_span!(
//!     "chat gpt-4o",
//!     { attr::GEN_AI_OPERATION_NAME } = "chat",
//!     { attr::GEN_AI_REQUEST_MODEL } = "gpt-4o",
//!     { attr::GEN_AI_USAGE_INPUT_TOKENS } = tracing::field::Empty,
//! );
//! span.record(attr::GEN_AI_USAGE_INPUT_TOKENS, 1_200_i64);
//! ```
//!
//! The `gen_ai.*` names and `error.type` are those of the OpenTelemetry GenAI semantic
//! conventions (schema 1.42). The conventions have moved out of
//! `opentelemetry-semantic-conventions` into their own repository, so this crate defines the
//! names it uses rather than depending on deprecated constants. The `ai.*` names cover what no
//! convention covers yet; they live here only, so that renaming one when a convention lands is
//! a one-line change.
//!
//! [`AiLayer`]: https://docs.rs/tracing-ai

// ===== OpenTelemetry GenAI semantic conventions =====

/// The operation: `chat`, `text_completion`, `embeddings`, `retrieval`, `execute_tool`,
/// `invoke_agent`, `invoke_workflow`, or a custom name. Its presence makes a span an AI span.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// Who serves the model: `openai`, `anthropic`, `gcp.gemini`, ...; also the pricing provider.
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// The model the call asked for.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// The model that answered, e.g. a dated snapshot of the requested alias.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// The provider's identifier of the response.
pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
/// Input tokens, as an integer; includes cached tokens.
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Output tokens, as an integer; includes reasoning tokens.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// Input tokens read from the provider's prompt cache (part of the input tokens).
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// Input tokens written to the provider's prompt cache (part of the input tokens): the name
/// of semantic-conventions-genai, exported by default.
pub const GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: &str = "gen_ai.usage.cache_write.input_tokens";
/// The name of semantic-conventions 1.42 and before for
/// [`GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS`]: read on any span (other instrumentations still
/// write it), and exported beside the current name when the metrics follow the previous
/// conventions too ([`MetricConventions::Previous`](crate::MetricConventions::Previous) or
/// [`Both`](crate::MetricConventions::Both), `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_1.41`), so
/// that queries on the old name keep their data.
pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation.input_tokens";
/// Input tokens written to the provider's cache to be kept an hour (Anthropic's one-hour
/// cache), part of [`GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS`]: priced at the one-hour
/// cache-write price. No convention names them yet.
pub const AI_USAGE_CACHE_WRITE_1H_INPUT_TOKENS: &str = "ai.usage.cache_write_1h.input_tokens";
/// Output tokens spent on reasoning (part of the output tokens).
pub const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
/// `true` on a call made through a provider's Batch API, priced at its batch price (about half
/// the standard one at OpenAI and Anthropic): `Usage::with_batch`.
pub const AI_REQUEST_BATCH: &str = "ai.request.batch";
/// The service tier the request asked for (OpenAI's `service_tier`: `auto`, `default`, `flex`,
/// `scale`, `priority`), as the OpenAI conventions name it.
pub const OPENAI_REQUEST_SERVICE_TIER: &str = "openai.request.service_tier";
/// The service tier that served the call, as the response says; it may differ from the one
/// asked for, and it is the one the call is priced at.
pub const OPENAI_RESPONSE_SERVICE_TIER: &str = "openai.response.service_tier";
/// Why the model stopped, one entry per choice.
pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// Seconds from the request to the first streamed chunk.
pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
/// Whether the response was streamed.
pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
/// The temperature the call asked for.
pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
/// The most tokens the model may return.
pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
/// The top-p the call asked for.
pub const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";
/// The top-k the call asked for.
pub const GEN_AI_REQUEST_TOP_K: &str = "gen_ai.request.top_k";
/// The sequences that stop the model, as a string array.
pub const GEN_AI_REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
/// The seed the call asked for.
pub const GEN_AI_REQUEST_SEED: &str = "gen_ai.request.seed";
/// How many candidate answers the call asked for.
pub const GEN_AI_REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
/// The frequency penalty the call asked for.
pub const GEN_AI_REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
/// The presence penalty the call asked for.
pub const GEN_AI_REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
/// The type of the error a failed call returned.
pub const ERROR_TYPE: &str = "error.type";

/// The tool an `execute_tool` span executes (`kind = "tool"`; from `tool = ...`, else the
/// function's name).
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// The id the model gave the tool call, to match it with the model's request.
pub const GEN_AI_TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
/// `function`, `extension` or `datastore`.
pub const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";
/// What the tool does, as described to the model.
pub const GEN_AI_TOOL_DESCRIPTION: &str = "gen_ai.tool.description";
/// The agent an `invoke_agent` span invokes (`kind = "agent"`; from `agent = ...`, else the
/// function's name).
pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";
/// The agent's unique id.
pub const GEN_AI_AGENT_ID: &str = "gen_ai.agent.id";
/// The agent's version.
pub const GEN_AI_AGENT_VERSION: &str = "gen_ai.agent.version";
/// What the agent does.
pub const GEN_AI_AGENT_DESCRIPTION: &str = "gen_ai.agent.description";
/// The messages sent to the model, as JSON text in the conventions' schema (opt-in: see
/// [`content`](crate::content)).
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// The messages the model returned, as JSON text (opt-in).
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// The instructions sent apart from the messages, as JSON text (opt-in).
pub const GEN_AI_SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
/// A tool call's arguments, as JSON text (opt-in).
pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// A tool call's result, as JSON text (opt-in).
pub const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
/// The name of the `gen_ai.evaluation.result` event: the result of evaluating a call's output
/// (a score, a label, an explanation), on the span of the call evaluated.
pub const GEN_AI_EVALUATION_RESULT: &str = "gen_ai.evaluation.result";
/// `gen_ai.evaluation.result`: what was evaluated, e.g. `Relevance` (required).
pub const GEN_AI_EVALUATION_NAME: &str = "gen_ai.evaluation.name";
/// `gen_ai.evaluation.result`: the score the evaluator returned (a double; when it has one).
pub const GEN_AI_EVALUATION_SCORE_VALUE: &str = "gen_ai.evaluation.score.value";
/// `gen_ai.evaluation.result`: the score as a low-cardinality label, e.g. `relevant`.
pub const GEN_AI_EVALUATION_SCORE_LABEL: &str = "gen_ai.evaluation.score.label";
/// `gen_ai.evaluation.result`: the evaluator's free-form explanation (recommended).
pub const GEN_AI_EVALUATION_EXPLANATION: &str = "gen_ai.evaluation.explanation";

// ===== Not covered by a convention =====

/// The cost of the call in USD, as an `f64`: what Langfuse and OpenLIT read.
pub const GEN_AI_USAGE_COST: &str = "gen_ai.usage.cost";
/// The cost in the configured reporting currency, when that is not USD.
pub const AI_COST_AMOUNT: &str = "ai.cost.amount";
/// The ISO 4217 code of [`AI_COST_AMOUNT`]'s currency, e.g. `GBP`.
pub const AI_COST_CURRENCY: &str = "ai.cost.currency";
/// Where the cost comes from: `genai-prices`, `override`, `self-hosted` or `provider`.
pub const AI_COST_SOURCE: &str = "ai.cost.source";
/// Beside a cost the provider reported (`ai.cost.source = provider`), what the layer's prices
/// give the same call, in USD: the two drift apart when a price table is stale or a fee is
/// missing from it.
pub const AI_COST_COMPUTED: &str = "ai.cost.computed";
/// What the call's price was selected by beside its model, as the `key=value` pairs given to
/// genai-prices' price variants, e.g. `service_tier=flex`: how the provider served the call.
pub const AI_COST_PRICE_CONTEXT: &str = "ai.cost.price_context";
/// Why no cost could be computed; set instead of a cost, never beside a cost of 0.
pub const AI_COST_UNPRICED: &str = "ai.cost.unpriced";
/// On a span whose model call is also described by spans nested in it (a client's own GenAI
/// span under an `#[ai_span]`): the span ids (hex, comma-separated) of the innermost spans
/// with usage, which carry the call's cost, metrics, totals and budget debit. The span that
/// has it carries no cost, so that the call is counted once.
pub const AI_COST_CARRIED_BY: &str = "ai.cost.carried_by";
/// Which price data priced a call: `genai-prices 0.2.1` (the version of the bundled data),
/// a prices file's name and SHA-256 (`prices.toml sha256:…`, what `sha256sum` prints),
/// `prices text sha256:…` for TOML given in code, or `code` for a price set on the builder.
pub const AI_COST_PRICES: &str = "ai.cost.prices";
/// The exchange rate a cost was converted to [`AI_COST_CURRENCY`] at: units per USD.
pub const AI_COST_EXCHANGE_RATE: &str = "ai.cost.exchange_rate";
/// The day that rate was taken (`YYYY-MM-DD`), when the application said
/// (`with_exchange_rate_date`).
pub const AI_COST_EXCHANGE_RATE_DATE: &str = "ai.cost.exchange_rate_date";
/// Why a call's cost is an estimate: the reason it reported no usage (see
/// [`estimate`](crate::estimate)); with [`AI_COST_SOURCE`] `estimated`.
pub const AI_COST_ESTIMATED_BECAUSE: &str = "ai.cost.estimated_because";
/// The input tokens an estimated cost was priced by, counted by the layer's estimator: never
/// the provider's `gen_ai.usage.input_tokens`.
pub const AI_USAGE_ESTIMATED_INPUT_TOKENS: &str = "ai.usage.estimated.input_tokens";
/// The output tokens an estimated cost was priced by: one per chunk the stream yielded.
pub const AI_USAGE_ESTIMATED_OUTPUT_TOKENS: &str = "ai.usage.estimated.output_tokens";
/// The application's own cache (not the provider's): `prefix`, `semantic` or `miss`.
pub const AI_CACHE_HIT: &str = "ai.cache_hit";
/// `true` when a fallback model or hosted API served this call.
pub const AI_FALLBACK_USED: &str = "ai.fallback.used";
/// The model that failed before the fallback served the call.
pub const AI_FALLBACK_FROM: &str = "ai.fallback.from";

/// Audio input tokens not read from the cache (part of the input tokens), priced at the
/// model's audio rate where it has one. No convention names them yet.
pub const AI_USAGE_AUDIO_INPUT_TOKENS: &str = "ai.usage.audio.input_tokens";
/// Audio output tokens (part of the output tokens), priced at the model's audio rate where it
/// has one. No convention names them yet.
pub const AI_USAGE_AUDIO_OUTPUT_TOKENS: &str = "ai.usage.audio.output_tokens";
/// Web searches a model call made on the provider's side (Anthropic's
/// `server_tool_use.web_search_requests`), billed per thousand apart from the tokens. No
/// convention names them yet.
pub const AI_USAGE_WEB_SEARCHES: &str = "ai.usage.web_searches";

// ===== Request roll-up, on a request's local root span =====
//
// Names apart from the per-call ones, so that a backend summing `gen_ai.usage.cost` over all
// spans never counts a request twice. They cover one process: across services, each service's
// local root (its server span) carries the totals of that service's own calls.

/// The USD cost of every model call under the request.
pub const AI_REQUEST_COST: &str = "ai.request.cost";
/// The part of [`AI_REQUEST_COST`] that is estimated (calls that reported no usage, priced
/// by the layer's [estimator](crate::estimate)), in USD: 0 when all of it was reported.
pub const AI_REQUEST_COST_ESTIMATED: &str = "ai.request.cost_estimated";
/// [`AI_REQUEST_COST`] in the reporting currency, when it is not USD.
pub const AI_REQUEST_COST_AMOUNT: &str = "ai.request.cost_amount";
/// The ISO 4217 code of [`AI_REQUEST_COST_AMOUNT`]'s currency.
pub const AI_REQUEST_COST_CURRENCY: &str = "ai.request.cost_currency";
/// Input tokens of every model call under the request.
pub const AI_REQUEST_INPUT_TOKENS: &str = "ai.request.input_tokens";
/// Output tokens of every model call under the request.
pub const AI_REQUEST_OUTPUT_TOKENS: &str = "ai.request.output_tokens";
/// How many model calls the request made.
pub const AI_REQUEST_AI_CALLS: &str = "ai.request.ai_calls";
/// How many of them could not be priced (and so are missing from [`AI_REQUEST_COST`]).
pub const AI_REQUEST_UNPRICED_CALLS: &str = "ai.request.unpriced_calls";

// ===== Agent roll-up, on an `invoke_agent` span =====
//
// The same totals as a request's, over the model calls under one agent (an agent inside
// another counts in both), under names of their own so that no sum counts a call twice.

/// The USD cost of every model call under the agent.
pub const AI_AGENT_COST: &str = "ai.agent.cost";
/// The part of [`AI_AGENT_COST`] that is estimated, in USD.
pub const AI_AGENT_COST_ESTIMATED: &str = "ai.agent.cost_estimated";
/// [`AI_AGENT_COST`] in the reporting currency, when it is not USD.
pub const AI_AGENT_COST_AMOUNT: &str = "ai.agent.cost_amount";
/// The ISO 4217 code of [`AI_AGENT_COST_AMOUNT`]'s currency.
pub const AI_AGENT_COST_CURRENCY: &str = "ai.agent.cost_currency";
/// Input tokens of every model call under the agent.
pub const AI_AGENT_INPUT_TOKENS: &str = "ai.agent.input_tokens";
/// Output tokens of every model call under the agent.
pub const AI_AGENT_OUTPUT_TOKENS: &str = "ai.agent.output_tokens";
/// How many model calls the agent made.
pub const AI_AGENT_AI_CALLS: &str = "ai.agent.ai_calls";
/// How many of them could not be priced (and so are missing from [`AI_AGENT_COST`]).
pub const AI_AGENT_UNPRICED_CALLS: &str = "ai.agent.unpriced_calls";

// ===== Retries =====

/// How many attempts a call took, on its span, when they were marked (see
/// [`retry`](crate::retry)).
pub const AI_ATTEMPTS: &str = "ai.attempts";
/// The number of an attempt (1 for the first), on its `attempt {n}` span.
pub const AI_ATTEMPT_NUMBER: &str = "ai.attempt.number";
/// Seconds from the end of the previous attempt to the start of this one: the retry's wait.
pub const AI_ATTEMPT_WAIT: &str = "ai.attempt.wait";

// ===== Streams =====

/// How many chunks a streamed call's stream yielded.
pub const AI_STREAM_CHUNKS: &str = "ai.stream.chunks";
/// `true` when the stream was dropped before its end: its usage may be missing.
pub const AI_STREAM_CANCELLED: &str = "ai.stream.cancelled";

// ===== Metrics =====
//
// The conventions' current names (semantic-conventions-genai) are exported by default; the
// names of semantic-conventions 1.41 and before on opt-in: see `MetricConventions`.

/// Histogram of the duration in seconds of each inference call (`chat`, `text_completion`,
/// `generate_content`), with [`ERROR_TYPE`] on failures.
pub const GEN_AI_CLIENT_INFERENCE_DURATION: &str = "gen_ai.client.inference.duration";
/// Histogram of the seconds from a streamed inference call's request to its first chunk.
pub const GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK: &str =
    "gen_ai.client.inference.time_to_first_chunk";
/// Histogram of the seconds between a streamed inference call's chunks, after the first.
pub const GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK: &str =
    "gen_ai.client.inference.time_per_output_chunk";
/// Counter of the input tokens of inference calls, cached ones included, by
/// [`GEN_AI_TOKEN_MODALITY`]; a call that reported no usage adds 0 under `unknown`.
pub const GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS: &str =
    "gen_ai.client.inference.usage.input_tokens";
/// Counter of the output tokens of inference calls, reasoning ones included.
pub const GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS: &str =
    "gen_ai.client.inference.usage.output_tokens";
/// Counter of the input tokens read from the provider's cache (part of the input).
pub const GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS: &str =
    "gen_ai.client.inference.usage.cache_read.input_tokens";
/// Counter of the input tokens written to the provider's cache (part of the input).
pub const GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS: &str =
    "gen_ai.client.inference.usage.cache_write.input_tokens";
/// Counter of the output tokens spent on reasoning (part of the output).
pub const GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS: &str =
    "gen_ai.client.inference.usage.reasoning.output_tokens";
/// Histogram of the input tokens of each inference call, with [`ERROR_TYPE`] on failures.
pub const GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS: &str =
    "gen_ai.client.inference.operation.input_tokens";
/// Histogram of the output tokens of each inference call, with [`ERROR_TYPE`] on failures.
pub const GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS: &str =
    "gen_ai.client.inference.operation.output_tokens";
/// `text`, `audio` or `unknown`, on the `gen_ai.client.inference.usage.*` counters.
pub const GEN_AI_TOKEN_MODALITY: &str = "gen_ai.token.modality";
/// Histogram of the duration in seconds of each tool execution.
pub const GEN_AI_EXECUTE_TOOL_DURATION: &str = "gen_ai.execute_tool.duration";
/// Histogram of the duration in seconds of each agent invocation.
pub const GEN_AI_INVOKE_AGENT_DURATION: &str = "gen_ai.invoke_agent.duration";
/// Histogram of the duration of each call in seconds, with [`ERROR_TYPE`] on failures: under
/// the current conventions, the operations with a provider that are not inference
/// (`embeddings`, say); under 1.41, every operation with a provider.
pub const GEN_AI_CLIENT_OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// Histogram of the duration in seconds of each GenAI operation that no metric of the
/// conventions takes (one without a provider), with [`ERROR_TYPE`] on failures.
pub const AI_OPERATION_DURATION: &str = "ai.operation.duration";
/// Counter of what calls cost in USD, by tenant, feature, model, provider and
/// [`AI_COST_SOURCE`]: counted before sampling, summed exactly (each call rounded as its
/// span's cost is).
pub const AI_CLIENT_COST: &str = "ai.client.cost";
/// Counter of the calls no cost could be given to, by [`AI_UNPRICED_REASON`], model and
/// provider: the share of spend the cost counter cannot see.
pub const AI_CLIENT_UNPRICED_CALLS: &str = "ai.client.unpriced_calls";
/// Up-down counter, in USD, of what providers' own figures for calls (OpenRouter's
/// `usage.cost`, `Usage::with_cost`) came to above what the layer's prices give the same calls
/// (negative when below), by model and provider: 0 while the price tables are right.
pub const AI_CLIENT_COST_DRIFT: &str = "ai.client.cost.drift";
/// Why a call went unpriced, on [`AI_CLIENT_UNPRICED_CALLS`]: `failed`, `cancelled`,
/// `no_usage`, `unknown_model`, `no_model`, `invalid_counts` or `not_money`.
pub const AI_UNPRICED_REASON: &str = "ai.unpriced.reason";

/// What a call's budget reservation was estimated from: `max_tokens` (its input's tokens and
/// the request's output limit), `per_call` (the budget's amount), `context_window` (its
/// input and all the output the model's context window leaves room for), `input` (its input
/// alone: nothing bounds its output) or `nothing` (its input could not be counted).
pub const AI_BUDGET_RESERVED_BY: &str = "ai.budget.reserved_by";

/// The event on a call's span when the call went past a budget that warns rather than
/// refuses, with [`AI_BUDGET_NAME`], [`AI_BUDGET_LIMIT`] and [`AI_BUDGET_SPENT`].
pub const AI_BUDGET_EXCEEDED: &str = "ai.budget.exceeded";
/// The event on a call's span when the call waited for room in a budget that waits
/// ([`OnLimit::Wait`](crate::budget::OnLimit::Wait)) and was then made, with
/// [`AI_BUDGET_NAME`] and [`AI_BUDGET_WAIT`].
pub const AI_BUDGET_WAITED: &str = "ai.budget.waited";
/// How long a call waited for room, in seconds, on an [`AI_BUDGET_WAITED`] event.
pub const AI_BUDGET_WAIT: &str = "ai.budget.wait";
/// The name of a [`Budget`](crate::budget::Budget): a label of the budget metrics, an
/// attribute of a span's [`AI_BUDGET_EXCEEDED`] and [`AI_BUDGET_WAITED`] events, and of the
/// span of a call a budget or a rate limit refused (with `error.type` `budget_exceeded` or
/// `rate_limited`).
pub const AI_BUDGET_NAME: &str = "ai.budget.name";
/// Gauge of what each budget's scope spent in its window (by [`AI_BUDGET_NAME`], the scope's
/// attributes and [`AI_BUDGET_CURRENCY`]); on an `ai.budget.exceeded` event, what was spent
/// or reserved when the call asked.
pub const AI_BUDGET_SPENT: &str = "ai.budget.spent";
/// Gauge of each budget's limit, with the labels of [`AI_BUDGET_SPENT`], so that an alert can
/// divide one by the other; on an `ai.budget.exceeded` event, the limit.
pub const AI_BUDGET_LIMIT: &str = "ai.budget.limit";
/// Gauge of what is left of each budget's limit in its window (never below 0), with the
/// labels of [`AI_BUDGET_SPENT`].
pub const AI_BUDGET_REMAINING: &str = "ai.budget.remaining";
/// The currency of a budget's amounts, on its gauges.
pub const AI_BUDGET_CURRENCY: &str = "ai.budget.currency";
/// Counter of the budget store's failures (feature `redis`), by [`AI_BUDGET_OPERATION`]:
/// `reserve` (the store did not answer in time; the failure policy applied) or `debit` (a
/// cost never reached it).
pub const AI_BUDGET_STORE_FAILURES: &str = "ai.budget.store_failures";
/// Counter of the calls past a budget's limit, by [`AI_BUDGET_OUTCOME`].
pub const AI_BUDGET_CALLS: &str = "ai.budget.calls";
/// Histogram of how long the calls that waited for room in a budget or rate limit (`on_limit =
/// "wait"`) waited before they were made, in seconds, by [`AI_BUDGET_NAME`]; a call whose wait
/// ran out is counted as refused in [`AI_BUDGET_CALLS`] instead.
pub const AI_BUDGET_WAIT_DURATION: &str = "ai.budget.wait.duration";
/// What happened to a call past a budget's limit, on [`AI_BUDGET_CALLS`]: `refused`,
/// `warned`, or `waited` (it waited for room in a budget that waits, then was made).
pub const AI_BUDGET_OUTCOME: &str = "ai.budget.outcome";
/// Which store operation failed, on [`AI_BUDGET_STORE_FAILURES`]: `reserve` or `debit`.
pub const AI_BUDGET_OPERATION: &str = "ai.budget.operation";
/// Why spans or log records were not exported, on `ai.export.dropped_spans` and
/// `ai.export.dropped_logs`: `queue_full`, `export_failed` or `shutdown`.
pub const AI_EXPORT_DROP_REASON: &str = "ai.export.drop.reason";
/// What became of a reload of the prices, on `ai.prices.reloads`: `applied`, or `refused`
/// (the old prices kept).
pub const AI_PRICES_RELOAD_OUTCOME: &str = "ai.prices.reload.outcome";

/// semantic-conventions 1.41: histogram of the tokens of each call, by
/// [`GEN_AI_TOKEN_TYPE`], operation, provider and model.
pub const GEN_AI_CLIENT_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// semantic-conventions 1.41: the seconds from a streamed call's request to its first chunk.
pub const GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK: &str =
    "gen_ai.client.operation.time_to_first_chunk";
/// semantic-conventions 1.41: the seconds between a streamed call's chunks, after the first.
pub const GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK: &str =
    "gen_ai.client.operation.time_per_output_chunk";
/// `input` or `output`, on [`GEN_AI_CLIENT_TOKEN_USAGE`].
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";

// ===== Sampling =====

/// Why the tail sampler kept a trace, on its local root: `error`, `cost`, `fallback`,
/// `parent`, `ratio`, or `overflow` (kept early, because holding it would have gone over the
/// bound of held spans).
pub const AI_SAMPLING_REASON: &str = "ai.sampling.reason";

// ===== Attribution =====

/// The tenant a request is for.
pub const TENANT_ID: &str = "tenant.id";
/// The product feature a request belongs to.
pub const FEATURE_ID: &str = "feature.id";
/// The request's identifier.
pub const REQUEST_ID: &str = "request.id";
/// The end user a request is for.
pub const USER_ID: &str = "user.id";
/// The user's session.
pub const SESSION_ID: &str = "session.id";

// ===== HTTP semantic conventions, on the spans of `propagation` =====

/// The request's method: `GET`, `POST`, ... (`_OTHER` for a method no RFC defines).
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// The route the server matched, a template such as `/users/{id}`: never the path itself.
pub const HTTP_ROUTE: &str = "http.route";
/// The response's status code.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// The path of the request a server received.
pub const URL_PATH: &str = "url.path";
/// The URL a client requested, without its query string or credentials.
pub const URL_FULL: &str = "url.full";
/// The host a client connected to (also on a model call with `endpoint = ...`).
pub const SERVER_ADDRESS: &str = "server.address";
/// The port a client connected to (also on a model call with `endpoint = ...`).
pub const SERVER_PORT: &str = "server.port";

// ===== tracing-opentelemetry's special fields =====

/// The OpenTelemetry span name, when it differs from the `tracing` span's static name.
pub const OTEL_NAME: &str = "otel.name";
/// The OpenTelemetry span kind: `client` for calls to a remote model.
pub const OTEL_KIND: &str = "otel.kind";
/// The OpenTelemetry span status: `ERROR` on a failed call.
pub const OTEL_STATUS_CODE: &str = "otel.status_code";
/// The message that goes with an error status.
pub const OTEL_STATUS_DESCRIPTION: &str = "otel.status_description";

/// `true` when captured content was cut to the size cap (its JSON stays valid, and each text
/// cut ends with `…[truncated]`).
pub const AI_CONTENT_TRUNCATED: &str = "ai.content.truncated";
