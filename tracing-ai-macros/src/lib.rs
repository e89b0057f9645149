//! The `#[ai_span]` attribute macro of [tracing-ai].
//!
//! Use it through the `tracing-ai` crate, which re-exports it as `tracing_ai::ai_span` and
//! provides the types and helpers its expansion calls; this crate alone is not usable.
//!
//! [tracing-ai]: https://docs.rs/tracing-ai
#![doc(html_root_url = "https://docs.rs/tracing-ai-macros/0.1.0")]
#![cfg_attr(docsrs, deny(rustdoc::broken_intra_doc_links))]

use proc_macro2::TokenStream;
use quote::{quote, ToTokens, TokenStreamExt as _};
use syn::parse::{Parse, ParseStream};
use syn::token::Brace;
use syn::{Attribute, ItemFn, Signature, Visibility};

mod attr;
mod expand;

/// Wraps a function in a span that describes one AI operation, and records the token usage
/// found in its return value.
///
/// It is `#[tracing::instrument]` for AI calls: the function runs inside a [`tracing`] span
/// named after the operation and model (`chat gpt-4o`), carrying the attributes of the
/// OpenTelemetry GenAI semantic conventions. When the function returns, the expansion reads
/// the usage out of the return value (through `tracing_ai::ReportsUsage`) and records the token
/// counts on the span; an `Err` records `error.type` and marks the span as failed instead.
///
/// ```
/// use tracing_ai::{ai_span, ReportsUsage, Usage};
///
/// struct Completion {
///     text: String,
///     prompt_tokens: u64,
///     completion_tokens: u64,
/// }
///
/// impl ReportsUsage for Completion {
///     fn usage(&self) -> Option<Usage> {
///         Some(Usage::new(self.prompt_tokens, self.completion_tokens))
///     }
/// }
///
/// #[ai_span(kind = "llm", model = "gpt-4o", provider = "openai")]
/// async fn generate(prompt: &str) -> Result<Completion, std::io::Error> {
///     // call the model...
/// #   Ok(Completion { text: prompt.to_owned(), prompt_tokens: 12, completion_tokens: 3 })
/// }
/// ```
///
/// Arguments are **not** recorded: prompts hold secrets and personal data. Record what you
/// need by naming it in `fields(...)`.
///
/// # Kinds
///
/// `kind` is required and sets `gen_ai.operation.name`:
///
/// | `kind` | operation | needs `model`, records usage | span kind |
/// | --- | --- | --- | --- |
/// | `"llm"`, `"chat"` | `chat` | yes | client |
/// | `"completion"` | `text_completion` | yes | client |
/// | `"embedding"` | `embeddings` | yes | client |
/// | `"retrieval"` | `retrieval` | no | client (a call to a vector store or search service) |
/// | `"tool"` | `execute_tool`, named after `tool = ...` | no | internal |
/// | `"agent"` | `invoke_agent`, named after `agent = ...` | no | internal, client with `remote` |
/// | `"workflow"` | `invoke_workflow` | no | internal |
/// | any other string | that string | no | internal |
///
/// The kinds that call a model need `model`, are exported as client spans, and their return
/// type must implement `ReportsUsage` (or the usage must be given with `usage = ...`). The
/// others record usage only when `usage = ...` says where it is: an agent's span reporting the
/// tokens of the calls under it would count them twice.
///
/// ```compile_fail
/// # use tracing_ai::{ai_span, Usage};
/// // error: `kind = "llm"` calls a model, so it needs `model = "..."`
/// #[ai_span(kind = "llm")]
/// fn generate() -> Usage { Usage::new(1, 1) }
/// ```
///
/// # Model and provider
///
/// `model` and `provider` take a string literal or an expression over the function's
/// arguments and `self` that gives something `AsRef<str>`:
///
/// ```
/// # use tracing_ai::{ai_span, Usage};
/// struct Client { model: String }
///
/// impl Client {
///     #[ai_span(kind = "llm", model = self.model.as_str(), provider = "anthropic")]
///     fn generate(&self, prompt: &str) -> Usage {
///         Usage::new(prompt.len() as u64, 10)
///     }
/// }
/// ```
///
/// The span's name is `"{operation} {model}"`, as the semantic conventions say. A span's name
/// is fixed at compile time in `tracing`, so with a model expression the `tracing` name is the
/// operation alone and the full name is given in `otel.name`, which is what OpenTelemetry
/// exports. Kinds without a model are named after the function: `retrieval search_chunks`
/// (tools and agents after `tool` / `agent`, see below).
///
/// # The server called
///
/// `endpoint = ...` takes the base URL the client is configured with (a literal or an
/// expression giving something `AsRef<str>`, read once per call) and records its host and port
/// as `server.address` and `server.port` (the scheme's port when the URL names none; never its
/// credentials or path), on the span and on its metrics, as the conventions recommend:
///
/// ```
/// # use tracing_ai::{ai_span, Usage};
/// struct Client { base_url: String }
///
/// impl Client {
///     #[ai_span(kind = "llm", model = "llama-3.1-8b-fp8", provider = "self-hosted",
///               endpoint = self.base_url.as_str())]
///     fn generate(&self, prompt: &str) -> Usage {
///         Usage::new(prompt.len() as u64, 10)
///     }
/// }
/// ```
///
/// With async-openai, `endpoint = client.config().api_base()` (its `Config` trait in scope).
///
/// # Tools and agents
///
/// A `kind = "tool"` span is named `execute_tool {tool}` and records `gen_ai.tool.name`; a
/// `kind = "agent"` span `invoke_agent {agent}` with `gen_ai.agent.name`, as the GenAI
/// conventions name them. The name is `tool = ...` / `agent = ...` (a literal, or an
/// expression like `model`'s, for a tool the model chose at run time), else the function's.
/// The other attributes of the conventions (`gen_ai.tool.call.id`, `gen_ai.tool.type`,
/// `gen_ai.tool.description`, `gen_ai.agent.id`, `gen_ai.agent.version`,
/// `gen_ai.agent.description`) go in `fields(...)`:
///
/// ```
/// # use tracing_ai::ai_span;
/// struct ToolCall { id: String, name: String, arguments: String }
///
/// #[ai_span(kind = "tool", tool = call.name.as_str(), fields(gen_ai.tool.call.id = call.id.as_str()))]
/// fn run_tool(call: &ToolCall) -> String {
///     format!("ran {}", call.arguments)
/// }
///
/// #[ai_span(kind = "agent", agent = "support-bot", fields(gen_ai.agent.version = "3"))]
/// async fn support(question: &str) -> String {
///     // the agent's model calls and tools, each its own span under this one
/// #   question.to_owned()
/// }
///
/// // An agent that runs elsewhere (a hosted assistant): a CLIENT span, not INTERNAL.
/// #[ai_span(kind = "agent", agent = "hosted-researcher", remote)]
/// async fn research(topic: &str) -> String {
/// #   topic.to_owned()
/// }
/// ```
///
/// # Message content
///
/// Captured only when the layer says so (`tracing_ai::content`: off by default, redacted and
/// bounded). `input = ...` is what the call sent, anything that implements
/// `tracing_ai::content::InputContent` (a `Vec<Message>`, a prompt as text, a client crate's
/// request), evaluated once, before the body runs; the request parameters it reports
/// (`tracing_ai::ReportsParameters`: temperature, max tokens, stop sequences, ... as
/// `gen_ai.request.*`) are recorded whether content is captured or not, since they are not
/// content. A client that keeps them apart from the messages (genai's `ChatOptions`) names
/// them with `parameters = ...`, anything that implements `tracing_ai::ReportsParameters` (an
/// `Option` of one too). The return value's messages are recorded when
/// its type implements `tracing_ai::content::ReportsContent`. A tool's `arguments = ...` and
/// its return value (or `Ok` value) are recorded as JSON when they are `serde::Serialize`.
///
/// ```
/// use tracing_ai::content::Message;
/// use tracing_ai::{ai_span, Usage};
///
/// #[ai_span(kind = "llm", model = "gpt-4o-mini", input = messages)]
/// fn ask(messages: &[Message]) -> Usage {
///     // send the messages
/// #   Usage::new(1, 1)
/// }
///
/// #[ai_span(kind = "tool", tool = "add", arguments = (a, b))]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
/// ```
///
/// # How the call is served
///
/// What selects the call's price besides its model: `service_tier = ...`, the tier the request
/// asks for (OpenAI's `flex` or `priority`; a string, or an expression giving a `&str`, a
/// `String` or an `Option` of either), exported as `openai.request.service_tier`; `batch` (or
/// `batch = <bool expression>`), a call made through the provider's Batch API, exported as
/// `ai.request.batch`. They win over what `input = ...` or `parameters = ...` report; the tier
/// the response says served the call (`Usage::with_service_tier`) wins over both. The cost
/// says what selected its price in `ai.cost.price_context` (`service_tier=flex`,
/// `processing=batch`), from the genai-prices data or from your own prices'
/// `ModelPrice::with_service_tier` and `with_batch`.
///
/// ```
/// # use tracing_ai::{ai_span, Usage};
/// #[ai_span(kind = "llm", model = "gpt-5", provider = "openai", service_tier = "flex")]
/// fn summarize(text: &str) -> Usage {
/// #   let _ = text;
///     // a request sent with `"service_tier": "flex"`
/// #   Usage::new(1, 1)
/// }
///
/// #[ai_span(kind = "llm", model = "gpt-5", provider = "openai", batch)]
/// fn batch_result(line: &str) -> Usage {
/// #   let _ = line;
///     // one line of a Batch API's output file
/// #   Usage::new(1, 1)
/// }
/// ```
///
/// # Usage
///
/// By default the usage comes from the return value, which must implement `ReportsUsage`;
/// `Result<T, E>` reports the usage of its `Ok` value, `Option<T>` of its `Some` value. When
/// the return type is not yours, say where the usage is with `usage = ...`: the return value
/// (for a `Result`, its `Ok` value) is bound by reference as `ret`, and the expression gives a
/// `Usage` or anything that implements `ReportsUsage`:
///
/// ```
/// # use tracing_ai::{ai_span, Usage};
/// pub struct Meta { pub prompt_tokens: u64, pub completion_tokens: u64 }
/// pub struct Response { pub text: String, pub meta: Meta }
///
/// #[ai_span(
///     kind = "llm",
///     model = "gpt-4o-mini",
///     usage = Usage::new(ret.meta.prompt_tokens, ret.meta.completion_tokens),
/// )]
/// fn generate(prompt: &str) -> Result<Response, std::fmt::Error> {
/// #   Ok(Response { text: prompt.into(), meta: Meta { prompt_tokens: 1, completion_tokens: 2 } })
/// }
/// ```
///
/// # Errors
///
/// When the function returns `Err(e)`, the span gets `error.type`, `otel.status_code =
/// "ERROR"` and, when `e` implements `Display`, `otel.status_description`. No usage is
/// recorded. `error.type` is, in order: an `error.type` the body recorded itself; what
/// `error_type = ...` says, an expression where `err` is the error (a `&E`) that gives
/// something `AsRef<str>`; `e.error_type()` when `E` implements `tracing_ai::ErrorType`; else
/// the type name of `e`. Keep it low-cardinality: a kind, never a message.
///
/// ```
/// # use tracing_ai::{ai_span, Usage};
/// # #[derive(Debug)] struct HttpError { status: u16 }
/// #[ai_span(
///     kind = "llm",
///     model = "gpt-4o-mini",
///     error_type = if err.status == 429 { "rate_limit_exceeded" } else { "http_error" },
/// )]
/// fn generate() -> Result<Usage, HttpError> {
///     Err(HttpError { status: 429 })
/// }
/// # let _ = generate();
/// ```
///
/// # Budgets
///
/// With `budget`, a model call reserves its estimated cost in the layer's budgets (see
/// `tracing_ai::budget`) after its `input` and `parameters` are read (its input's tokens and
/// `max_tokens` of output are the estimate) and before its body runs, and the layer
/// settles the reservation when the call ends. When a budget refuses, the body does not run:
/// the function returns `Err(BudgetExceeded.into())`, so its return type must be a
/// `Result<_, E>` with `E: From<tracing_ai::budget::BudgetExceeded>`, and the span records
/// `error.type = "budget_exceeded"`.
///
/// ```
/// use tracing_ai::budget::BudgetExceeded;
/// use tracing_ai::{ai_span, Usage};
///
/// #[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", budget)]
/// async fn chat(prompt: &str) -> Result<Usage, Box<dyn std::error::Error + Send + Sync>> {
///     Ok(Usage::new(prompt.len() as u64, 10))
/// }
/// # let _ = chat("q");
/// # let _: Option<BudgetExceeded> = None;
/// ```
///
/// # Streams
///
/// With `stream`, the function returns a stream of the call's chunks (`impl Stream`, a
/// `Pin<Box<dyn Stream + Send>>` such as async-openai's `ChatCompletionResponseStream`, or a
/// `Result` of either) and the span lives until that stream ends, fails or is dropped, entered
/// on every poll: see `tracing_ai::stream` for what it records. The chunks implement
/// `tracing_ai::stream::StreamChunk`; the last one that reports usage is priced.
///
/// ```
/// # use std::pin::Pin;
/// # use std::task::{Context, Poll};
/// use tracing_ai::stream::{Stream, StreamChunk};
/// use tracing_ai::{ai_span, Usage};
///
/// struct Delta { usage: Option<Usage> }
///
/// impl StreamChunk for Delta {
///     fn usage(&self) -> Option<Usage> {
///         self.usage.clone()
///     }
/// }
///
/// #[ai_span(kind = "llm", model = "gpt-4o-mini", provider = "openai", stream)]
/// async fn chat(prompt: &str) -> impl Stream<Item = Delta> {
///     // send the request, return the response's stream of chunks
/// #   Done
/// }
/// # struct Done;
/// # impl Stream for Done {
/// #     type Item = Delta;
/// #     fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Delta>> {
/// #         Poll::Ready(None)
/// #     }
/// # }
/// # let _ = chat("q");
/// ```
///
/// # Other arguments
///
/// `name = "..."` overrides the span name; `level`, `target` and `fields(...)` work as in
/// `#[instrument]`; `skip_all` is accepted for symmetry with `#[instrument]` and changes
/// nothing, since no argument is recorded unless named in `fields(...)`.
///
/// ```
/// # use tracing_ai::{ai_span, Usage};
/// #[ai_span(kind = "embedding", model = "text-embedding-3-small", level = "debug",
///           fields(input.chars = text.len()))]
/// fn embed(text: &str) -> Usage {
///     Usage::new(8, 0)
/// }
/// ```
///
/// # Seeing the expansion
///
/// With the environment variable `TRACING_AI_MACROS_DEBUG` set when the crate is compiled,
/// every `#[ai_span]` prints the code it expands to on the compiler's standard error (as
/// axum's `AXUM_MACROS_DEBUG` does); `cargo expand` shows the same.
///
/// [`tracing`]: https://docs.rs/tracing
#[proc_macro_attribute]
pub fn ai_span(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    let item: TokenStream = item.into();
    let expanded = match syn::parse::<attr::AiSpanArgs>(args) {
        Ok(args) => expand(args, item),
        // On any error the user's function is still emitted unchanged, so that the only
        // error is ours and not a cascade of "cannot find function".
        Err(error) => with_error(error, item),
    };
    if std::env::var_os("TRACING_AI_MACROS_DEBUG").is_some() {
        eprintln!("{expanded}");
    }
    expanded.into()
}

/// The fields `#[ai_span]` reserves for its own arguments, as `(&[(field, argument)],
/// &[(prefix, argument)])`: for tracing-ai's test that its facts table declares the same. Not
/// a stable API.
#[doc(hidden)]
#[proc_macro]
pub fn __reserved_fields(_: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let pairs = |list: &[(&str, &str)]| {
        let entries = list
            .iter()
            .map(|(field, argument)| quote!((#field, #argument)));
        quote!(&[#(#entries),*])
    };
    let (names, prefixes) = (pairs(attr::RESERVED_FIELDS), pairs(attr::RESERVED_PREFIXES));
    quote!((#names, #prefixes)).into()
}

fn expand(args: attr::AiSpanArgs, item: TokenStream) -> TokenStream {
    if let Err(error) = args.validate() {
        return with_error(error, item);
    }
    let Some((_, kind)) = &args.kind else {
        return with_error(
            syn::Error::new(proc_macro2::Span::call_site(), "missing `kind` argument"),
            item,
        );
    };
    match syn::parse2::<ItemFn>(item.clone()) {
        Ok(item_fn) => {
            if let Some(constness) = &item_fn.sig.constness {
                return with_error(
                    syn::Error::new_spanned(
                        constness,
                        "the `#[ai_span]` attribute may not be used with `const fn`s",
                    ),
                    item,
                );
            }
            if let Some(async_like) = expand::AsyncInfo::from_fn(&item_fn) {
                return async_like.gen_async(&args, kind);
            }
            let item_fn = MaybeItemFn::from(item_fn);
            expand::gen_function(item_fn.as_ref(), &args, kind)
        }
        // The body does not parse (yet): expand over its raw tokens, so that rustc reports the
        // user's own error and rust-analyzer keeps working in a half-typed function.
        Err(_) => match syn::parse2::<MaybeItemFn>(item.clone()) {
            Ok(item_fn) => expand::gen_function(item_fn.as_ref(), &args, kind),
            // A method declared in a trait, without a body: say where the attribute goes.
            Err(_)
                if syn::parse2::<syn::TraitItemFn>(item.clone())
                    .is_ok_and(|method| method.default.is_none()) =>
            {
                with_error(
                    syn::Error::new(
                        proc_macro2::Span::call_site(),
                        "`#[ai_span]` needs a function body: put it on the method in each \
                         `impl` of the trait, not on its declaration in the trait",
                    ),
                    item,
                )
            }
            Err(error) => with_error(error, item),
        },
    }
}

fn with_error(error: syn::Error, item: TokenStream) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#error #item)
}

/// An `ItemFn` whose body is kept as raw tokens, which may not parse.
struct MaybeItemFn {
    outer_attrs: Vec<Attribute>,
    inner_attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    brace_token: Brace,
    block: TokenStream,
}

impl MaybeItemFn {
    fn as_ref(&self) -> MaybeItemFnRef<'_, TokenStream> {
        MaybeItemFnRef {
            outer_attrs: &self.outer_attrs,
            inner_attrs: &self.inner_attrs,
            vis: &self.vis,
            sig: &self.sig,
            brace_token: &self.brace_token,
            block: &self.block,
        }
    }
}

impl Parse for MaybeItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let outer_attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        let content;
        let brace_token = syn::braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let block: TokenStream = content.parse()?;
        Ok(Self {
            outer_attrs,
            inner_attrs,
            vis,
            sig,
            brace_token,
            block,
        })
    }
}

impl From<ItemFn> for MaybeItemFn {
    fn from(
        ItemFn {
            attrs,
            vis,
            sig,
            block,
        }: ItemFn,
    ) -> Self {
        let (outer_attrs, inner_attrs) = attrs
            .into_iter()
            .partition(|attr| attr.style == syn::AttrStyle::Outer);
        let mut block_tokens = TokenStream::new();
        block_tokens.append_all(block.stmts);
        Self {
            outer_attrs,
            inner_attrs,
            vis,
            sig,
            brace_token: block.brace_token,
            block: block_tokens,
        }
    }
}

/// A borrowed [`MaybeItemFn`], generic over the body: parsed statements or raw tokens.
struct MaybeItemFnRef<'a, B: ToTokens> {
    outer_attrs: &'a [Attribute],
    inner_attrs: &'a [Attribute],
    vis: &'a Visibility,
    sig: &'a Signature,
    brace_token: &'a Brace,
    block: &'a B,
}
