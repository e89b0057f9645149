//! Code generation: the instrumented function, its span and what it records on return.
//!
//! Stays whole: it is one concern, as `tracing-attributes/src/expand.rs` is: the re-emitted
//! signature, the body for sync and async functions, and the boxed-future (async-trait) form
//! share the span and the recording code below.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens, TokenStreamExt as _};
use syn::spanned::Spanned as _;
use syn::visit_mut::VisitMut;
use syn::{
    Block, Expr, ExprAsync, ExprCall, ItemFn, LitStr, ReturnType, Signature, Stmt, Token, Type,
};

use crate::attr::{AiSpanArgs, Kind, Operation, StrOrExpr};
use crate::MaybeItemFnRef;

/// Re-emits the function with its signature untouched and its body instrumented.
pub(crate) fn gen_function<B: ToTokens>(
    input: MaybeItemFnRef<'_, B>,
    args: &AiSpanArgs,
    kind: &Kind,
) -> TokenStream {
    let MaybeItemFnRef {
        outer_attrs,
        inner_attrs,
        vis,
        sig,
        brace_token,
        block,
    } = input;

    // Destructured exhaustively so that a new `syn` field fails to compile here instead of
    // being dropped from the user's signature.
    let Signature {
        output,
        inputs: params,
        unsafety,
        asyncness,
        constness,
        abi,
        ident,
        generics:
            syn::Generics {
                params: gen_params,
                where_clause,
                lt_token,
                gt_token,
            },
        fn_token,
        paren_token,
        variadic,
    } = sig;

    // `-> !`: the function never returns, so there is nothing to record, and the never type
    // cannot be named in a `let` on stable Rust: the body only runs inside the span.
    let never = matches!(output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)));
    if let (true, Some(asyncness)) = (never, asyncness) {
        return syn::Error::new_spanned(
            asyncness,
            "`#[ai_span]` does not support `async fn` returning `!`; make it a plain `fn`",
        )
        .into_compile_error();
    }
    let body = if never {
        let span = gen_span(args, kind, &ident.to_string());
        quote!(
            let __tracing_ai_span = #span;
            let __tracing_ai_guard = __tracing_ai_span.enter();
            #block
        )
    } else {
        gen_recorded_body(block, *asyncness, args, kind, ident, output)
    };

    let mut result = quote!(
        #(#outer_attrs)*
        #vis #constness #asyncness #unsafety #abi #fn_token #ident
        #lt_token #gen_params #gt_token
    );
    paren_token.surround(&mut result, |tokens| {
        params.to_tokens(tokens);
        variadic.to_tokens(tokens);
    });
    output.to_tokens(&mut result);
    where_clause.to_tokens(&mut result);
    brace_token.surround(&mut result, |tokens| {
        tokens.append_all(inner_attrs);
        body.to_tokens(tokens);
    });
    result
}

/// The body of a function that returns: run in the span, its return value recorded.
fn gen_recorded_body<B: ToTokens>(
    block: &B,
    asyncness: Option<Token![async]>,
    args: &AiSpanArgs,
    kind: &Kind,
    ident: &syn::Ident,
    output: &ReturnType,
) -> TokenStream {
    let (return_type, return_span) = match output {
        ReturnType::Type(_, return_type) => (erase_impl_trait(return_type), return_type.span()),
        // Point at the function name when there is no return type to point at.
        ReturnType::Default => (syn::parse_quote!(()), ident.span()),
    };
    // A return statement that never runs but pins the body's type to the declared return type,
    // so that `?` and inference inside the closure or async block behave as in the plain fn and
    // type errors point at the user's signature.
    let fake_return_edge = quote_spanned! {return_span=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let __tracing_ai_fake_return: #return_type = loop {};
            return __tracing_ai_fake_return;
        }
    };
    let block = quote! {
        {
            #fake_return_edge
            { #block }
        }
    };

    gen_block(
        &block,
        asyncness.is_some(),
        args,
        kind,
        &ident.to_string(),
        return_span,
        StreamShape::of(args, output),
    )
}

/// How a `stream` function's return value is wrapped, by the shape of its return type.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamShape {
    /// Not a `stream` function: the return value is returned as it is.
    None,
    /// `impl Stream<..>`: returned as the wrapper, which is an `impl Stream` too.
    Opaque,
    /// `Result<impl Stream<..>, E>`: the `Ok` side wrapped.
    OpaqueResult,
    /// A named type (`Pin<Box<dyn Stream + ..>>`, an alias of one, or a `Result` of one):
    /// wrapped and boxed again into the same type.
    Named,
}

impl StreamShape {
    pub(crate) fn of(args: &AiSpanArgs, output: &ReturnType) -> Self {
        if args.stream.is_none() {
            return StreamShape::None;
        }
        let ReturnType::Type(_, ty) = output else {
            return StreamShape::Named;
        };
        match &**ty {
            Type::ImplTrait(_) => StreamShape::Opaque,
            Type::Path(path) => {
                let last = path.path.segments.last();
                let ok_is_opaque = last.is_some_and(|segment| {
                    segment.ident == "Result"
                        && matches!(
                            &segment.arguments,
                            syn::PathArguments::AngleBracketed(generics)
                                if matches!(
                                    generics.args.first(),
                                    Some(syn::GenericArgument::Type(Type::ImplTrait(_)))
                                )
                        )
                });
                if ok_is_opaque {
                    StreamShape::OpaqueResult
                } else {
                    StreamShape::Named
                }
            }
            _ => StreamShape::Named,
        }
    }

    /// Wraps `__tracing_ai_ret` so that the span lives as long as the stream; `span` is the
    /// span (or a reference to it).
    fn wrap(self, span: TokenStream) -> TokenStream {
        let span = quote!(::tracing_ai::__private::tracing::Span::clone(&#span));
        match self {
            StreamShape::None => quote!(__tracing_ai_ret),
            StreamShape::Opaque => quote! {
                ::tracing_ai::__private::instrument_opaque(__tracing_ai_ret, #span, __tracing_ai_started)
            },
            StreamShape::OpaqueResult => quote! {
                ::core::result::Result::map(__tracing_ai_ret, |__tracing_ai_stream| {
                    ::tracing_ai::__private::instrument_opaque(__tracing_ai_stream, #span, __tracing_ai_started)
                })
            },
            StreamShape::Named => quote! {
                ::tracing_ai::__private::Streamed::__tracing_ai_streamed(
                    __tracing_ai_ret,
                    #span,
                    __tracing_ai_started,
                )
            },
        }
    }
}

/// The instrumented body: create the span, run the user's block inside it, record the outcome.
fn gen_block<B: ToTokens>(
    block: &B,
    async_context: bool,
    args: &AiSpanArgs,
    kind: &Kind,
    fn_name: &str,
    return_span: Span,
    stream: StreamShape,
) -> TokenStream {
    let span = gen_span(args, kind, fn_name);
    let record = gen_record(args, kind, return_span);
    let content = gen_content_input(args, kind);
    // A streamed call's time to first chunk counts from here.
    let started = (stream != StreamShape::None)
        .then(|| quote!(let __tracing_ai_started = ::std::time::Instant::now();));
    let returned = stream.wrap(quote!(__tracing_ai_span));
    // After the input is read (its tokens and `max_tokens` are the estimate), before the body.
    // An `async fn` awaits its store (a stalled Redis parks the task, not the thread).
    let reserve = args.budget.as_ref().map(|keyword| {
        let reserved = if async_context {
            quote!(::tracing_ai::budget::reserve_async(&__tracing_ai_span).await)
        } else {
            quote!(::tracing_ai::budget::reserve(&__tracing_ai_span))
        };
        quote_spanned! {keyword.span=>
            if let ::core::result::Result::Err(__tracing_ai_refused) = #reserved
            {
                return ::tracing_ai::__private::refused(__tracing_ai_refused);
            }
        }
    });

    if async_context {
        let unrecorded = match stream {
            StreamShape::None => quote!(__tracing_ai_fut.await),
            _ => quote!({
                let __tracing_ai_ret = __tracing_ai_fut.await;
                #returned
            }),
        };
        return quote_spanned! {block.span()=>
            #started
            let __tracing_ai_span = #span;
            // Before the future takes the arguments the input is read from.
            #content
            #reserve
            let __tracing_ai_fut = async move #block;
            if !::tracing_ai::__private::is_recording(&__tracing_ai_span) {
                #unrecorded
            } else {
                // Pinned here rather than boxed, so that the span can be read back from the
                // `Instrumented` future once it is done, without cloning it.
                let mut __tracing_ai_fut = ::core::pin::pin!(
                    ::tracing_ai::__private::tracing::Instrument::instrument(
                        __tracing_ai_fut,
                        __tracing_ai_span,
                    )
                );
                let __tracing_ai_ret = __tracing_ai_fut.as_mut().await;
                let __tracing_ai_span = __tracing_ai_fut.span();
                #record
                #returned
            }
        };
    }

    quote_spanned! {block.span()=>
        #started
        let __tracing_ai_span = #span;
        #content
        #reserve
        let __tracing_ai_ret = {
            let __tracing_ai_guard = __tracing_ai_span.enter();
            // Running the body in a closure lets `return` and `?` end the body, not the
            // function, so that their value is seen and recorded here.
            #[allow(clippy::redundant_closure_call)]
            (move || #block)()
        };
        if ::tracing_ai::__private::is_recording(&__tracing_ai_span) {
            let __tracing_ai_span = &__tracing_ai_span;
            #record
        }
        #returned
    }
}

/// The `span!` call: every field the expansion or the layer will record is declared up front,
/// because a span's field set is fixed when it is created.
fn gen_span(args: &AiSpanArgs, kind: &Kind, fn_name: &str) -> TokenStream {
    let span = gen_span_of(args, kind, fn_name);
    let Some((_, endpoint)) = &args.endpoint else {
        return span;
    };
    // The base URL is read once, and only when the span is enabled; its host and port go in
    // the span's fields at creation.
    let endpoint = as_str_value(endpoint);
    let level = args.level();
    quote! {
        if ::tracing_ai::__private::tracing::level_enabled!(#level) {
            match ::tracing_ai::__private::Endpoint::parse(#endpoint) {
                __tracing_ai_endpoint => #span,
            }
        } else {
            ::tracing_ai::__private::tracing::Span::none()
        }
    }
}

fn gen_span_of(args: &AiSpanArgs, kind: &Kind, fn_name: &str) -> TokenStream {
    let target = args.target();
    let level = args.level();
    let operation = kind.operation_name();
    let provider = match &args.provider {
        Some((_, provider)) => as_str_value(provider),
        None => quote!(::tracing_ai::__private::tracing::field::Empty),
    };
    // A model call, a retrieval from a store, or an agent invoked over the network, is a
    // client span.
    let otel_kind = if kind.calls_a_service() || args.remote.is_some() {
        quote!(::tracing_ai::__private::SPAN_KIND_CLIENT)
    } else {
        quote!(::tracing_ai::__private::tracing::field::Empty)
    };
    let user_fields = args.fields.as_ref().map(|(_, fields)| fields);
    let endpoint_fields = args.endpoint.as_ref().map(|_| {
        quote! {
            { ::tracing_ai::attr::SERVER_ADDRESS } = __tracing_ai_endpoint.address,
            { ::tracing_ai::attr::SERVER_PORT } = __tracing_ai_endpoint.port,
        }
    });
    let empty = quote!(::tracing_ai::__private::tracing::field::Empty);
    // The spans of `stream` functions declare what the stream's wrapper records.
    let streamed = args.stream.is_some();
    // What the span is named after: the model a model call uses, the tool a tool span
    // executes (by default the function), the agent an agent span invokes (likewise).
    let default_subject = StrOrExpr::Str(LitStr::new(fn_name, Span::call_site()));
    let (subject, subject_field) = match kind.operation {
        Operation::Tool => (
            Some(value_or(&args.tool, &default_subject)),
            Some(quote!(::tracing_ai::attr::GEN_AI_TOOL_NAME)),
        ),
        Operation::Agent => (
            Some(value_or(&args.agent, &default_subject)),
            Some(quote!(::tracing_ai::attr::GEN_AI_AGENT_NAME)),
        ),
        _ => (args.model.as_ref().map(|(_, model)| model), None),
    };
    let model_value = args
        .model
        .as_ref()
        .map_or_else(|| empty.clone(), |(_, model)| as_str_value(model));
    // `subject` is the value the subject's field records: the model's own field for a model
    // call, a field of its own (first among the user's fields) for a tool or an agent.
    let span = |name: TokenStream, subject: TokenStream, otel_name: TokenStream| {
        let (model, subject_field) = match &subject_field {
            Some(field) => (model_value.clone(), quote!({ #field } = #subject,)),
            None => (subject, TokenStream::new()),
        };
        quote! {
            ::tracing_ai::__private::ai_span!(
                target: #target,
                level: #level,
                name: #name,
                operation: #operation,
                provider: #provider,
                model: #model,
                otel_kind: #otel_kind,
                otel_name: #otel_name,
                streamed: #streamed,
                fields: { #subject_field #endpoint_fields #user_fields }
            )
        }
    };

    match (&args.name, subject) {
        (Some((_, name)), subject) => {
            let subject = subject.map_or_else(|| empty.clone(), as_str_value);
            span(name.to_token_stream(), subject, empty.clone())
        }
        (None, Some(StrOrExpr::Str(subject))) => {
            let name = format!("{operation} {}", subject.value());
            span(quote!(#name), subject.to_token_stream(), empty.clone())
        }
        (None, Some(StrOrExpr::Expr(subject))) => {
            // A span's own name must be `'static`, so a name known only at run time goes
            // into `otel.name`, which tracing-opentelemetry exports as the span name. The
            // expression is evaluated once, and only when the span is enabled.
            let level = args.level();
            let span = span(
                quote!(#operation),
                quote!(__tracing_ai_subject),
                quote!(::tracing_ai::__private::tracing::field::display(
                    &::core::format_args!("{} {}", #operation, __tracing_ai_subject)
                )),
            );
            quote! {
                if ::tracing_ai::__private::tracing::level_enabled!(#level) {
                    match ::core::convert::AsRef::<str>::as_ref(&(#subject)) {
                        __tracing_ai_subject => #span,
                    }
                } else {
                    ::tracing_ai::__private::tracing::Span::none()
                }
            }
        }
        (None, None) => {
            let name = format!("{operation} {fn_name}");
            span(quote!(#name), empty.clone(), empty)
        }
    }
}

/// The value of a `keyword = value` argument, or `default` when it was not given.
fn value_or<'a, K>(argument: &'a Option<(K, StrOrExpr)>, default: &'a StrOrExpr) -> &'a StrOrExpr {
    argument.as_ref().map_or(default, |(_, value)| value)
}

/// A `model`/`provider` argument as a `&str` field value.
fn as_str_value(value: &StrOrExpr) -> TokenStream {
    match value {
        StrOrExpr::Str(lit) => lit.to_token_stream(),
        StrOrExpr::Expr(expr) => quote!(::core::convert::AsRef::<str>::as_ref(&(#expr))),
    }
}

/// Whether the expansion records message content: the call's input or a tool's arguments,
/// what a model call or an agent returns, a tool's result.
fn records_content(args: &AiSpanArgs, kind: &Kind) -> bool {
    args.input.is_some()
        || args.parameters.is_some()
        || args.arguments.is_some()
        || (args.stream.is_none()
            && (kind.calls_a_model()
                || matches!(kind.operation, Operation::Tool | Operation::Agent)))
}

/// Looks up the content settings once per call (nothing when no layer captures content),
/// and records `input = ...` and `arguments = ...` before the body runs.
fn gen_content_input(args: &AiSpanArgs, kind: &Kind) -> TokenStream {
    let served = gen_served(args);
    if !records_content(args, kind) && served.is_none() {
        return TokenStream::new();
    }
    // `input = ...` is evaluated once: its request parameters are recorded whether content is
    // captured or not (they are not content), its messages only when it is.
    // `parameters = ...` must report them; an `input = ...` reports them if its type can.
    let parameters = match (&args.parameters, &args.input) {
        (Some((_, parameters)), _) => Some(quote_spanned! {parameters.span()=>
            ::tracing_ai::__private::parameters_of(&(#parameters))
        }),
        (None, Some((_, input))) => Some(quote_spanned! {input.span()=>
            {
                #[allow(unused_imports)]
                use ::tracing_ai::__private::{ParametersFallback as _, ParametersOf as _};
                (&::tracing_ai::__private::Probe(__tracing_ai_input)).__tracing_ai_parameters()
            }
        }),
        (None, None) => None,
    };
    // `service_tier = ...` and `batch` say how the call is served, over what the request says.
    let parameters = match (parameters, served) {
        (parameters, Some(served)) => {
            let parameters = parameters.unwrap_or_else(|| quote!(::core::option::Option::None));
            Some(quote!(::tracing_ai::__private::served_as(#parameters, #served)))
        }
        (parameters, None) => parameters,
    };
    let record_parameters = parameters.map(|parameters| {
        quote! {
            ::tracing_ai::__private::record_parameters(&__tracing_ai_span, #parameters);
        }
    });
    let keep_input = args.input.as_ref().map(|(_, input)| {
        quote_spanned! {input.span()=>
            ::tracing_ai::__private::keep_input_for_estimate(&__tracing_ai_span, __tracing_ai_input);
        }
    });
    let bind_input = args.input.as_ref().map(|(_, input)| {
        quote_spanned! {input.span()=>
            let __tracing_ai_input = &(#input);
        }
    });
    let read_input = (record_parameters.is_some() || keep_input.is_some()).then(|| {
        quote! {
            #bind_input
            if !__tracing_ai_span.is_disabled() {
                #record_parameters
                #keep_input
            }
        }
    });
    let input = args.input.as_ref().map(|(_, input)| {
        quote_spanned! {input.span()=>
            ::tracing_ai::__private::record_input(__tracing_ai_content, &__tracing_ai_span, __tracing_ai_input);
        }
    });
    let arguments = args.arguments.as_ref().map(|(_, arguments)| {
        quote_spanned! {arguments.span()=>
            ::tracing_ai::__private::record_tool_arguments(__tracing_ai_content, &__tracing_ai_span, &(#arguments));
        }
    });
    if !records_content(args, kind) {
        return read_input.unwrap_or_default();
    }
    quote! {
        #read_input
        let __tracing_ai_content = ::tracing_ai::__private::content(&__tracing_ai_span);
        if let ::core::option::Option::Some(__tracing_ai_content) = &__tracing_ai_content {
            #input
            #arguments
        }
    }
}

/// `service_tier = ...` and `batch` as the arguments of `__private::served_as`: the tier (an
/// `Option<&str>`) and whether the call is a batch's; `None` when neither is given.
fn gen_served(args: &AiSpanArgs) -> Option<TokenStream> {
    if args.service_tier.is_none() && args.batch.is_none() {
        return None;
    }
    let tier = match &args.service_tier {
        Some((_, StrOrExpr::Str(tier))) => quote!(::core::option::Option::Some(#tier)),
        Some((_, StrOrExpr::Expr(tier))) => quote_spanned! {tier.span()=>
            ::tracing_ai::__private::ServiceTier::service_tier(&(#tier))
        },
        None => quote!(::core::option::Option::None),
    };
    let batch = match &args.batch {
        Some((_, Some(batch))) => quote_spanned! {batch.span()=> (#batch) },
        Some((_, None)) => quote!(true),
        None => quote!(false),
    };
    Some(quote!(#tier, #batch))
}

/// What the return value says of content: a model call's or an agent's output messages, a
/// tool's result.
fn gen_content_output(args: &AiSpanArgs, kind: &Kind) -> TokenStream {
    if !records_content(args, kind) || args.stream.is_some() {
        return TokenStream::new();
    }
    let record = if kind.operation == Operation::Tool {
        quote! {
            (&::tracing_ai::__private::Probe(__tracing_ai_ok))
                .__tracing_ai_tool_result(__tracing_ai_content, __tracing_ai_span);
        }
    } else {
        quote! {
            ::tracing_ai::__private::record_output(
                __tracing_ai_content,
                __tracing_ai_span,
                (&::tracing_ai::__private::Probe(__tracing_ai_ok)).__tracing_ai_output(),
            );
        }
    };
    quote! {
        if let ::core::option::Option::Some(__tracing_ai_content) = &__tracing_ai_content {
            #record
        }
    }
}

/// What runs once the body has returned `__tracing_ai_ret`: an `Err` records the error (its
/// `error.type` from `error_type = ...`, the error's `ErrorType`, or its type name), a success
/// records the usage the kind reports.
fn gen_record(args: &AiSpanArgs, kind: &Kind, return_span: Span) -> TokenStream {
    let on_ok = match &args.usage {
        Some((_, usage)) => quote_spanned! {usage.span()=>
            #[allow(unused_variables)]
            let ret = __tracing_ai_ok;
            ::tracing_ai::__private::record_usage(&__TRACING_AI_FIELDS, __tracing_ai_span, &(#usage));
        },
        // A stream's usage is recorded by its wrapper, from the chunk that reports it.
        None if args.stream.is_some() => quote!(let _ = __tracing_ai_ok;),
        // Spanned on the return type: a type that cannot report usage is an error there.
        None if kind.calls_a_model() => quote_spanned! {return_span=>
            ::tracing_ai::__private::record_usage(&__TRACING_AI_FIELDS, __tracing_ai_span, __tracing_ai_ok);
        },
        None => quote!(let _ = __tracing_ai_ok;),
    };
    let error_type = match &args.error_type {
        Some((_, error_type)) => quote_spanned! {error_type.span()=>
            ::core::convert::AsRef::<str>::as_ref(&(#error_type))
        },
        None => quote! {
            &*(&::tracing_ai::__private::Probe(__tracing_ai_err)).__tracing_ai_error_type()
        },
    };
    let content = gen_content_output(args, kind);
    let on_ok = quote! {
        #content
        #on_ok
    };
    let on_err = quote! {
        #[allow(unused_variables)]
        let err = __tracing_ai_err;
        ::tracing_ai::__private::record_error(
            &__TRACING_AI_FIELDS,
            __tracing_ai_span,
            #error_type,
            (&::tracing_ai::__private::Probe(__tracing_ai_err)).__tracing_ai_describe(),
        );
    };
    quote! {
        #[allow(unused_imports)]
        use ::tracing_ai::__private::{
            Describe as _, DescribeFallback as _, ErrorTypeFallback as _, ErrorTypeOf as _,
            Outcome as _, OutcomeFallback as _, OutputFallback as _, OutputOf as _,
            ToolResultFallback as _, ToolResultOf as _,
        };
        // The span's fields, looked up by name once for this function rather than per call.
        static __TRACING_AI_FIELDS: ::tracing_ai::__private::CallsiteFields =
            ::tracing_ai::__private::CallsiteFields::new();
        match (&::tracing_ai::__private::Probe(&__tracing_ai_ret)).__tracing_ai_outcome() {
            ::core::result::Result::Ok(__tracing_ai_ok) => { #on_ok }
            ::core::result::Result::Err(__tracing_ai_err) => { #on_err }
        }
    }
}

/// A non-async function whose body ends in `Box::pin(async move { .. })` or an `async` block,
/// as `async-trait` writes them: the future is instrumented, not the function that builds it.
pub(crate) struct AsyncInfo<'a> {
    input: &'a ItemFn,
    source_stmt: &'a Stmt,
    async_expr: &'a ExprAsync,
    pinned_box: bool,
}

impl<'a> AsyncInfo<'a> {
    pub(crate) fn from_fn(input: &'a ItemFn) -> Option<Self> {
        if input.sig.asyncness.is_some() {
            return None;
        }
        let (source_stmt, last_expr) =
            input.block.stmts.iter().rev().find_map(|stmt| match stmt {
                Stmt::Expr(expr, None) => Some((stmt, expr)),
                _ => None,
            })?;
        match last_expr {
            Expr::Async(async_expr) => Some(Self {
                input,
                source_stmt,
                async_expr,
                pinned_box: false,
            }),
            Expr::Call(ExprCall { func, args, .. }) => {
                let Expr::Path(path) = func.as_ref() else {
                    return None;
                };
                let segments: Vec<String> = path
                    .path
                    .segments
                    .iter()
                    .map(|segment| segment.ident.to_string())
                    .collect();
                if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) {
                    return None;
                }
                match args.first() {
                    Some(Expr::Async(async_expr)) => Some(Self {
                        input,
                        source_stmt,
                        async_expr,
                        pinned_box: true,
                    }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    pub(crate) fn gen_async(self, args: &AiSpanArgs, kind: &Kind) -> TokenStream {
        let Self {
            input,
            source_stmt,
            async_expr,
            pinned_box,
        } = self;
        let fn_name = input.sig.ident.to_string();
        let block: &Block = &async_expr.block;
        let instrumented = gen_block(
            block,
            true,
            args,
            kind,
            &fn_name,
            async_return_span(&input.sig.output),
            // The boxed future's output, not the function's return type, is the stream.
            match args.stream {
                Some(_) => StreamShape::Named,
                None => StreamShape::None,
            },
        );
        let async_attrs = &async_expr.attrs;
        let instrumented = quote!(#(#async_attrs)* async move { #instrumented });
        let instrumented = if pinned_box {
            quote!(::std::boxed::Box::pin(#instrumented))
        } else {
            instrumented
        };
        let stmts = input.block.stmts.iter().map(|stmt| {
            if std::ptr::eq(stmt, source_stmt) {
                instrumented.clone()
            } else {
                stmt.to_token_stream()
            }
        });
        // `#![inner]` attributes stay first in the body, where the user wrote them.
        let (outer_attrs, inner_attrs): (Vec<_>, Vec<_>) = input
            .attrs
            .iter()
            .partition(|attr| attr.style == syn::AttrStyle::Outer);
        let vis = &input.vis;
        let sig = &input.sig;
        quote! {
            #(#outer_attrs)*
            #vis #sig {
                #(#inner_attrs)*
                #(#stmts)*
            }
        }
    }
}

/// For `Pin<Box<dyn Future<Output = T>>>`, errors about the output point at `T`.
fn async_return_span(output: &ReturnType) -> Span {
    let ReturnType::Type(_, ty) = output else {
        return Span::call_site();
    };
    let mut finder = FutureOutputFinder(None);
    finder.visit_type_mut(&mut ty.as_ref().clone());
    finder.0.unwrap_or_else(|| ty.span())
}

struct FutureOutputFinder(Option<Span>);

impl VisitMut for FutureOutputFinder {
    fn visit_assoc_type_mut(&mut self, assoc: &mut syn::AssocType) {
        if assoc.ident == "Output" && self.0.is_none() {
            self.0 = Some(assoc.ty.span());
        }
    }
}

/// Replaces `impl Trait` with `_`, so that the return type can annotate a `let`.
struct ImplTraitEraser;

impl VisitMut for ImplTraitEraser {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(..) = ty {
            *ty = syn::TypeInfer {
                underscore_token: Token![_](ty.span()),
            }
            .into();
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}

fn erase_impl_trait(ty: &Type) -> Type {
    let mut ty = ty.clone();
    ImplTraitEraser.visit_type_mut(&mut ty);
    ty
}
