//! The arguments of `#[ai_span(...)]`: parsing and validation.
//!
//! Stays whole: it is one concern, as `tracing-attributes/src/attr.rs` is: the argument
//! structs, their `Parse` impls and the checks that combine their errors; a split would
//! scatter one grammar over several files.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::token::Brace;
use syn::{Expr, ExprLit, Ident, Lit, LitInt, LitStr, Path, Token};

pub(crate) mod kw {
    syn::custom_keyword!(kind);
    syn::custom_keyword!(model);
    syn::custom_keyword!(provider);
    syn::custom_keyword!(name);
    syn::custom_keyword!(usage);
    syn::custom_keyword!(error_type);
    syn::custom_keyword!(fields);
    syn::custom_keyword!(level);
    syn::custom_keyword!(target);
    syn::custom_keyword!(skip_all);
    syn::custom_keyword!(stream);
    syn::custom_keyword!(tool);
    syn::custom_keyword!(agent);
    syn::custom_keyword!(input);
    syn::custom_keyword!(parameters);
    syn::custom_keyword!(arguments);
    syn::custom_keyword!(remote);
    syn::custom_keyword!(endpoint);
    syn::custom_keyword!(budget);
    syn::custom_keyword!(service_tier);
    syn::custom_keyword!(batch);
}

/// Everything written between the parentheses of `#[ai_span(...)]`.
///
/// Each argument keeps its keyword token so that errors can point at it; defaults live in the
/// accessors, not in the expansion.
#[derive(Default)]
pub(crate) struct AiSpanArgs {
    pub(crate) kind: Option<(kw::kind, Kind)>,
    pub(crate) model: Option<(kw::model, StrOrExpr)>,
    pub(crate) provider: Option<(kw::provider, StrOrExpr)>,
    pub(crate) name: Option<(kw::name, LitStrOrIdent)>,
    pub(crate) usage: Option<(kw::usage, Expr)>,
    pub(crate) error_type: Option<(kw::error_type, Expr)>,
    pub(crate) fields: Option<(kw::fields, Fields)>,
    pub(crate) level: Option<(kw::level, Level)>,
    pub(crate) target: Option<(kw::target, LitStrOrIdent)>,
    pub(crate) skip_all: Option<kw::skip_all>,
    pub(crate) stream: Option<kw::stream>,
    pub(crate) tool: Option<(kw::tool, StrOrExpr)>,
    pub(crate) agent: Option<(kw::agent, StrOrExpr)>,
    /// What the call sent, recorded as message content when capture is on.
    pub(crate) input: Option<(kw::input, Expr)>,
    /// The request's parameters (`max_tokens`, ...) when the client keeps them apart from the
    /// input (genai's `ChatOptions`).
    pub(crate) parameters: Option<(kw::parameters, Expr)>,
    /// A tool call's arguments, recorded as content when capture is on.
    pub(crate) arguments: Option<(kw::arguments, Expr)>,
    /// An agent invoked over the network (a CLIENT span), not in this process.
    pub(crate) remote: Option<kw::remote>,
    /// The base URL of the service called: `server.address` and `server.port`.
    pub(crate) endpoint: Option<(kw::endpoint, StrOrExpr)>,
    /// Reserve the call's estimated cost in the layer's budgets before the body runs.
    pub(crate) budget: Option<kw::budget>,
    /// The service tier the request asks for (`openai.request.service_tier`): a string, or an
    /// expression giving a `&str`, a `String` or an `Option` of either.
    pub(crate) service_tier: Option<(kw::service_tier, StrOrExpr)>,
    /// Made through the provider's Batch API: `batch`, or `batch = <bool expression>`.
    pub(crate) batch: Option<(kw::batch, Option<Expr>)>,
}

impl AiSpanArgs {
    pub(crate) fn level(&self) -> TokenStream {
        match &self.level {
            Some((_, level)) => level.to_token_stream(),
            None => Level::Info.to_token_stream(),
        }
    }

    pub(crate) fn target(&self) -> TokenStream {
        match &self.target {
            Some((_, target)) => target.to_token_stream(),
            None => quote!(::core::module_path!()),
        }
    }

    /// Checks that hold between arguments; every failing check is reported, not just the first.
    pub(crate) fn validate(&self) -> syn::Result<()> {
        let mut errors: Option<syn::Error> = None;
        let mut push = |error: syn::Error| match &mut errors {
            Some(errors) => errors.combine(error),
            None => errors = Some(error),
        };
        match &self.kind {
            None => push(syn::Error::new(
                Span::call_site(),
                "missing `kind` argument: say what this call is, e.g. `#[ai_span(kind = \"llm\", model = \"gpt-4o\")]`; \
                 expected one of \"llm\", \"chat\", \"completion\", \"embedding\", \"retrieval\", \"tool\", \"agent\", \"workflow\", or a custom string",
            )),
            Some((_, kind)) if kind.calls_a_model() && self.model.is_none() => push(syn::Error::new(
                kind.span(),
                format!(
                    "`kind = {}` calls a model, so it needs `model = \"...\"` (a string, or an expression over the arguments such as `model = self.model.as_str()`)",
                    kind.literal.to_token_stream()
                ),
            )),
            Some(_) => {}
        }
        let operation = self.kind.as_ref().map(|(_, kind)| kind.operation);
        if let Some((keyword, _)) = &self.tool {
            if operation.is_some_and(|o| o != Operation::Tool) {
                push(syn::Error::new_spanned(
                    keyword,
                    "`tool = ...` names the tool a `kind = \"tool\"` span executes; this span is of another kind",
                ));
            }
        }
        if let Some((keyword, _)) = &self.agent {
            if operation.is_some_and(|o| o != Operation::Agent) {
                push(syn::Error::new_spanned(
                    keyword,
                    "`agent = ...` names the agent a `kind = \"agent\"` span invokes; this span is of another kind",
                ));
            }
        }
        // A custom kind may call a model; the other named kinds do not.
        let may_call_a_model = |o: Operation| {
            matches!(
                o,
                Operation::Chat | Operation::Completion | Operation::Embedding | Operation::Custom
            )
        };
        if let Some(keyword) = &self.budget {
            if operation.is_some_and(|o| !may_call_a_model(o)) {
                push(syn::Error::new_spanned(
                    keyword,
                    "`budget` reserves what a model call will cost (`kind = \"llm\"`, \"completion\" or \"embedding\"); this span calls no model",
                ));
            }
        }
        let served_by = [
            self.service_tier
                .as_ref()
                .map(|(keyword, _)| keyword.to_token_stream()),
            self.batch
                .as_ref()
                .map(|(keyword, _)| keyword.to_token_stream()),
        ];
        for keyword in served_by.into_iter().flatten() {
            if operation.is_some_and(|o| !may_call_a_model(o)) {
                push(syn::Error::new_spanned(
                    &keyword,
                    format!(
                        "`{keyword}` says how a model call is served, for its price (`kind = \"llm\"`, \"completion\" or \"embedding\"); this span calls no model"
                    ),
                ));
            }
        }
        if let Some(keyword) = &self.remote {
            if operation.is_some_and(|o| o != Operation::Agent) {
                push(syn::Error::new_spanned(
                    keyword,
                    "`remote` marks an agent invoked over the network (`kind = \"agent\"`); a model call's span is a client span already",
                ));
            }
        }
        if let Some((keyword, _)) = &self.parameters {
            if operation.is_some_and(|o| !may_call_a_model(o)) {
                push(syn::Error::new_spanned(
                    keyword,
                    "`parameters = ...` are what a model call asks of the model (`kind = \"llm\"`, \"completion\" or \"embedding\"); this span calls no model",
                ));
            }
        }
        if let Some((keyword, _)) = &self.arguments {
            if operation.is_some_and(|o| o != Operation::Tool) {
                push(syn::Error::new_spanned(
                    keyword,
                    "`arguments = ...` are a tool call's (`kind = \"tool\"`); for what a model call sends, use `input = ...`",
                ));
            }
        }
        if let Some((_, fields)) = &self.fields {
            for field in &fields.0 {
                if let FieldName::Punctuated(name) = &field.name {
                    if let Some(argument) = reserved_field_argument(name) {
                        push(syn::Error::new_spanned(
                            name,
                            format!(
                                "`{}` is recorded by `#[ai_span]` itself; set it with `{argument}` instead of `fields(...)`",
                                dotted(name)
                            ),
                        ));
                    }
                }
            }
        }
        errors.map_or(Ok(()), Err)
    }
}

/// The fields a user may not set through `fields(...)` because an argument of the macro owns
/// them, with the argument to use instead. tracing-ai's facts table declares the same (a test
/// there compares it with this list and [`RESERVED_PREFIXES`] through `__reserved_fields!`).
pub(crate) const RESERVED_FIELDS: &[(&str, &str)] = &[
    ("gen_ai.operation.name", "kind = \"...\""),
    ("gen_ai.provider.name", "provider = ..."),
    ("gen_ai.request.model", "model = ..."),
    ("otel.name", "name = \"...\""),
    ("gen_ai.response.model", "usage = ..."),
    ("openai.request.service_tier", "service_tier = ..."),
    ("openai.response.service_tier", "usage = ..."),
    ("ai.request.batch", "batch"),
    ("gen_ai.tool.name", "tool = ..."),
    ("gen_ai.agent.name", "agent = ..."),
    ("server.address", "endpoint = ..."),
    ("server.port", "endpoint = ..."),
];

/// The namespaces of the usage, every field in which `usage = ...` records: each token count
/// (a count added to tracing-ai's table is reserved without a change here) and the cost.
pub(crate) const RESERVED_PREFIXES: &[(&str, &str)] = &[
    ("gen_ai.usage.", "usage = ..."),
    ("ai.usage.", "usage = ..."),
];

fn reserved_field_argument(name: &Punctuated<Ident, Token![.]>) -> Option<&'static str> {
    let name = dotted(name);
    RESERVED_FIELDS
        .iter()
        .find(|(reserved, _)| *reserved == name)
        .or_else(|| {
            RESERVED_PREFIXES
                .iter()
                .find(|(prefix, _)| name.starts_with(prefix))
        })
        .map(|(_, argument)| *argument)
}

fn dotted(name: &Punctuated<Ident, Token![.]>) -> String {
    name.iter()
        .map(|ident| ident.unraw().to_string())
        .collect::<Vec<_>>()
        .join(".")
}

impl Parse for AiSpanArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Self::default();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::kind) {
                parse_assignment(input, &mut args.kind)?;
            } else if lookahead.peek(kw::model) {
                parse_assignment(input, &mut args.model)?;
            } else if lookahead.peek(kw::provider) {
                parse_assignment(input, &mut args.provider)?;
            } else if lookahead.peek(kw::endpoint) {
                parse_assignment(input, &mut args.endpoint)?;
            } else if lookahead.peek(kw::name) {
                parse_assignment(input, &mut args.name)?;
            } else if lookahead.peek(kw::usage) {
                parse_assignment(input, &mut args.usage)?;
            } else if lookahead.peek(kw::error_type) {
                parse_assignment(input, &mut args.error_type)?;
            } else if lookahead.peek(kw::tool) {
                parse_assignment(input, &mut args.tool)?;
            } else if lookahead.peek(kw::agent) {
                parse_assignment(input, &mut args.agent)?;
            } else if lookahead.peek(kw::input) {
                parse_assignment(input, &mut args.input)?;
            } else if lookahead.peek(kw::parameters) {
                parse_assignment(input, &mut args.parameters)?;
            } else if lookahead.peek(kw::arguments) {
                parse_assignment(input, &mut args.arguments)?;
            } else if lookahead.peek(kw::level) {
                parse_assignment(input, &mut args.level)?;
            } else if lookahead.peek(kw::target) {
                parse_assignment(input, &mut args.target)?;
            } else if lookahead.peek(kw::fields) {
                let keyword = input.parse::<kw::fields>()?;
                let content;
                syn::parenthesized!(content in input);
                let fields = Fields(content.parse_terminated(Field::parse, Token![,])?);
                set_once(&mut args.fields, keyword, fields)?;
            } else if lookahead.peek(kw::skip_all) {
                let keyword = input.parse::<kw::skip_all>()?;
                if let Some(first) = &args.skip_all {
                    return Err(duplicate(first, &keyword));
                }
                args.skip_all = Some(keyword);
            } else if lookahead.peek(kw::remote) {
                let keyword = input.parse::<kw::remote>()?;
                if let Some(first) = &args.remote {
                    return Err(duplicate(first, &keyword));
                }
                args.remote = Some(keyword);
            } else if lookahead.peek(kw::budget) {
                let keyword = input.parse::<kw::budget>()?;
                if let Some(first) = &args.budget {
                    return Err(duplicate(first, &keyword));
                }
                args.budget = Some(keyword);
            } else if lookahead.peek(kw::service_tier) {
                parse_assignment(input, &mut args.service_tier)?;
            } else if lookahead.peek(kw::batch) {
                let keyword = input.parse::<kw::batch>()?;
                let value = if input.peek(Token![=]) {
                    input.parse::<Token![=]>()?;
                    Some(input.parse::<Expr>()?)
                } else {
                    None
                };
                set_once(&mut args.batch, keyword, value)?;
            } else if lookahead.peek(kw::stream) {
                let keyword = input.parse::<kw::stream>()?;
                if let Some(first) = &args.stream {
                    return Err(duplicate(first, &keyword));
                }
                args.stream = Some(keyword);
            } else {
                return Err(lookahead.error());
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

/// Parses `keyword = value` into `slot`, refusing a second occurrence of the same keyword.
fn parse_assignment<K, V>(input: ParseStream<'_>, slot: &mut Option<(K, V)>) -> syn::Result<()>
where
    K: Parse + ToTokens,
    V: Parse,
{
    let keyword = input.parse::<K>()?;
    input.parse::<Token![=]>()?;
    let value = input.parse::<V>()?;
    set_once(slot, keyword, value)
}

fn set_once<K: ToTokens, V>(slot: &mut Option<(K, V)>, keyword: K, value: V) -> syn::Result<()> {
    if let Some((first, _)) = slot {
        return Err(duplicate(first, &keyword));
    }
    *slot = Some((keyword, value));
    Ok(())
}

fn duplicate(first: &impl ToTokens, second: &impl ToTokens) -> syn::Error {
    let keyword = second.to_token_stream().to_string();
    let mut error =
        syn::Error::new_spanned(second, format!("`{keyword}` specified more than once"));
    error.combine(syn::Error::new_spanned(
        first,
        format!("`{keyword}` first specified here"),
    ));
    error
}

/// What kind of AI operation a span stands for, from `kind = "..."`, with the literal kept so
/// that errors about the kind point at it.
#[derive(Clone)]
pub(crate) struct Kind {
    pub(crate) operation: Operation,
    literal: LitStr,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Chat,
    Completion,
    Embedding,
    Retrieval,
    Tool,
    Agent,
    Workflow,
    Custom,
}

impl Kind {
    /// The `gen_ai.operation.name` this kind exports, as the GenAI semantic conventions spell it.
    pub(crate) fn operation_name(&self) -> String {
        match self.operation {
            Operation::Chat => "chat".to_owned(),
            Operation::Completion => "text_completion".to_owned(),
            Operation::Embedding => "embeddings".to_owned(),
            Operation::Retrieval => "retrieval".to_owned(),
            Operation::Tool => "execute_tool".to_owned(),
            Operation::Agent => "invoke_agent".to_owned(),
            Operation::Workflow => "invoke_workflow".to_owned(),
            Operation::Custom => self.literal.value(),
        }
    }

    /// Kinds that call a model: they need a model, report token usage and are client spans.
    pub(crate) fn calls_a_model(&self) -> bool {
        matches!(
            self.operation,
            Operation::Chat | Operation::Completion | Operation::Embedding
        )
    }

    /// Whether the span is a client span, as the GenAI conventions say: a call to a model, or
    /// to the vector store or search service a retrieval queries.
    pub(crate) fn calls_a_service(&self) -> bool {
        self.calls_a_model() || self.operation == Operation::Retrieval
    }

    pub(crate) fn span(&self) -> Span {
        self.literal.span()
    }
}

impl Parse for Kind {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        const NOT_A_STRING: &str = "`kind` must be a string literal, e.g. `kind = \"llm\"`";
        let expr = input.parse::<Expr>()?;
        let literal = match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(literal),
                ..
            }) => literal,
            other => return Err(syn::Error::new_spanned(other, NOT_A_STRING)),
        };
        let operation = match literal.value().as_str() {
            "llm" | "chat" => Operation::Chat,
            "completion" | "text_completion" => Operation::Completion,
            "embedding" | "embeddings" => Operation::Embedding,
            "retrieval" => Operation::Retrieval,
            "tool" | "execute_tool" => Operation::Tool,
            "agent" | "invoke_agent" => Operation::Agent,
            "workflow" | "invoke_workflow" => Operation::Workflow,
            custom if custom.is_empty() || custom.contains(char::is_whitespace) => {
                return Err(syn::Error::new(
                    literal.span(),
                    "`kind` must be one of \"llm\", \"chat\", \"completion\", \"embedding\", \"retrieval\", \"tool\", \"agent\", \"workflow\", \
                     or a custom operation name without spaces",
                ))
            }
            _ => Operation::Custom,
        };
        Ok(Kind { operation, literal })
    }
}

/// `model = "gpt-4o"` or `model = self.model.as_str()`.
#[derive(Clone)]
pub(crate) enum StrOrExpr {
    Str(LitStr),
    Expr(Expr),
}

impl Parse for StrOrExpr {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Ok(match input.parse::<Expr>()? {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => StrOrExpr::Str(lit),
            expr => StrOrExpr::Expr(expr),
        })
    }
}

#[derive(Clone)]
pub(crate) enum LitStrOrIdent {
    LitStr(LitStr),
    Ident(Ident),
}

impl Parse for LitStrOrIdent {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(LitStr) {
            input.parse().map(LitStrOrIdent::LitStr)
        } else if lookahead.peek(Ident) {
            input.parse().map(LitStrOrIdent::Ident)
        } else {
            Err(lookahead.error())
        }
    }
}

impl ToTokens for LitStrOrIdent {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            LitStrOrIdent::LitStr(lit) => lit.to_tokens(tokens),
            LitStrOrIdent::Ident(ident) => ident.to_tokens(tokens),
        }
    }
}

/// `fields(...)`, with `#[instrument]`'s syntax.
pub(crate) struct Fields(pub(crate) Punctuated<Field, Token![,]>);

pub(crate) struct Field {
    pub(crate) name: FieldName,
    pub(crate) value: Option<Expr>,
    pub(crate) kind: FieldKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    Debug,
    Display,
    Value,
}

pub(crate) enum FieldName {
    Expr(Expr),
    Punctuated(Punctuated<Ident, Token![.]>),
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut kind = parse_field_kind(input)?;
        let name = if input.peek(Brace) {
            let content;
            syn::braced!(content in input);
            FieldName::Expr(content.parse()?)
        } else {
            FieldName::Punctuated(Punctuated::parse_separated_nonempty_with(
                input,
                Ident::parse_any,
            )?)
        };
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            let value_kind = parse_field_kind(input)?;
            if value_kind != FieldKind::Value {
                kind = value_kind;
            }
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Self { name, value, kind })
    }
}

fn parse_field_kind(input: ParseStream<'_>) -> syn::Result<FieldKind> {
    Ok(if input.peek(Token![%]) {
        input.parse::<Token![%]>()?;
        FieldKind::Display
    } else if input.peek(Token![?]) {
        input.parse::<Token![?]>()?;
        FieldKind::Debug
    } else {
        FieldKind::Value
    })
}

impl ToTokens for FieldName {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            FieldName::Expr(expr) => {
                Brace::default().surround(tokens, |tokens| expr.to_tokens(tokens))
            }
            FieldName::Punctuated(name) => name.to_tokens(tokens),
        }
    }
}

impl ToTokens for FieldKind {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            FieldKind::Debug => tokens.extend(quote!(?)),
            FieldKind::Display => tokens.extend(quote!(%)),
            FieldKind::Value => {}
        }
    }
}

impl ToTokens for Field {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let name = &self.name;
        let kind = &self.kind;
        match &self.value {
            Some(value) => tokens.extend(quote!(#name = #kind #value)),
            // As in `#[instrument]`: a bare name declares a field to record later.
            None if self.kind == FieldKind::Value => {
                tokens.extend(quote!(#name = ::tracing_ai::__private::tracing::field::Empty))
            }
            // `?x` / `%x`: shorthand for a local of the same name.
            None => tokens.extend(quote!(#kind #name)),
        }
    }
}

impl ToTokens for Fields {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.0.to_tokens(tokens)
    }
}

#[derive(Clone)]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Path(Path),
}

impl Parse for Level {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        const EXPECTED: &str = "unknown verbosity level, expected one of \"trace\", \"debug\", \"info\", \"warn\", or \"error\", or a number 1-5";
        let lookahead = input.lookahead1();
        if lookahead.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            match lit.value().to_ascii_lowercase().as_str() {
                "trace" => Ok(Level::Trace),
                "debug" => Ok(Level::Debug),
                "info" => Ok(Level::Info),
                "warn" => Ok(Level::Warn),
                "error" => Ok(Level::Error),
                _ => Err(syn::Error::new(lit.span(), EXPECTED)),
            }
        } else if lookahead.peek(LitInt) {
            let lit: LitInt = input.parse()?;
            match lit.base10_parse::<u8>() {
                Ok(1) => Ok(Level::Trace),
                Ok(2) => Ok(Level::Debug),
                Ok(3) => Ok(Level::Info),
                Ok(4) => Ok(Level::Warn),
                Ok(5) => Ok(Level::Error),
                _ => Err(syn::Error::new(lit.span(), EXPECTED)),
            }
        } else if lookahead.peek(Ident) {
            Ok(Level::Path(input.parse()?))
        } else {
            Err(lookahead.error())
        }
    }
}

impl ToTokens for Level {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(match self {
            Level::Trace => quote!(::tracing_ai::__private::tracing::Level::TRACE),
            Level::Debug => quote!(::tracing_ai::__private::tracing::Level::DEBUG),
            Level::Info => quote!(::tracing_ai::__private::tracing::Level::INFO),
            Level::Warn => quote!(::tracing_ai::__private::tracing::Level::WARN),
            Level::Error => quote!(::tracing_ai::__private::tracing::Level::ERROR),
            Level::Path(path) => quote!(#path),
        })
    }
}
