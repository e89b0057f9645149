//! A model call's facts, each declared once.
//!
//! One table, [`__facts!`](crate::__facts), declares every fact an `#[ai_span]` span carries:
//! its attribute, what the layer reads it as, when it is declared and recorded, and for a
//! token count, what it is part of, the metric that sums it and its field in [`Usage`]. It is
//! a macro so that what needs literal tokens can be generated from it: [`TokenKind`], the
//! public [`Usage`]'s counts and setters, the span macro's field lists
//! (`__private::__tracing_ai_span!`) and [`FACTS`], the list the layer's field reader, the
//! writes and the tests take. Only the names the attribute macro reserves for its arguments
//! live in `tracing-ai-macros` (which cannot read this crate); they are reserved by a prefix
//! for the counts, and the tests at the end of this file fail when the two disagree.
//!
//! Adding a token count (image tokens, say) is one row of the table's `parts`, its name in
//! [`attr`], and its price in `pricing/` (the compiler asks for it there): the field list,
//! the reader, the writes, the metrics, the `Usage` setter and the checks follow. The test
//! `a_new_count_is_named_only_by_the_table_its_price_and_the_docs` in `tests/tests/layout.rs`
//! holds the library to that.

use crate::attr;
use crate::usage::Usage;

/// The table of a call's facts, handed to `$callback` after `$args`: each token count (the
/// two wholes, then their parts), then the other facts an `#[ai_span]` span declares, by when
/// they are recorded. The token kinds, the public [`Usage`]'s counts and setters, [`FACTS`]
/// and the span macro's field lists are all generated from it.
///
/// A count's row says:
/// - `attribute`: the [`attr`] constant it is exported as, and the field it is recorded in;
/// - `part_of`: the count it is part of (a part is priced at its own rate instead of its
///   whole's; `pricing/` asks for that rate);
/// - `counted`: the conventions' counter that sums it over calls (`metric(...)`), the
///   modality whose share of its whole it is (`modality("audio")`), `within(...)` for a
///   part counted only in its whole's counter (the one-hour cache writes), or `apart(unit)`
///   for a count that is not tokens (web searches: no `part_of`, no token counter);
/// - `usage`: its field in [`Usage`], and `set_by` the setter that fills it.
///
/// The other rows are `attribute: slot`, the [`Slot`] the layer reads the field as, with `by`
/// the argument of `#[ai_span]` that records it, when there is one.
#[doc(hidden)]
#[macro_export]
macro_rules! __facts {
    ([$($callback:tt)*] $($args:tt)*) => {
        $($callback)*! {
            $($args)*
            wholes: [
                /// Input (prompt) tokens, cached ones included.
                Input {
                    attribute: GEN_AI_USAGE_INPUT_TOKENS,
                    counted: metric(GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS),
                    usage: input_tokens,
                },
                /// Output (completion) tokens, reasoning ones included.
                Output {
                    attribute: GEN_AI_USAGE_OUTPUT_TOKENS,
                    counted: metric(GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS),
                    usage: output_tokens,
                },
            ],
            parts: [
                /// Input tokens read from the provider's prompt cache.
                CacheRead {
                    attribute: GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                    part_of: Input,
                    counted: metric(GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS),
                    usage: cache_read_tokens,
                    /// Sets the input tokens read from the provider's prompt cache (already
                    /// counted in `input_tokens`; priced at the cache-read price instead of the
                    /// input price).
                    set_by: with_cache_read,
                },
                /// Input tokens written to the provider's prompt cache.
                CacheWrite {
                    attribute: GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
                    part_of: Input,
                    counted: metric(GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS),
                    usage: cache_creation_tokens,
                    /// Sets the input tokens written to the provider's prompt cache (already
                    /// counted in `input_tokens`; priced at the cache-write price instead of the
                    /// input price).
                    set_by: with_cache_creation,
                },
                /// Input tokens written to the provider's prompt cache to be kept an hour
                /// (Anthropic's one-hour cache), among the cache writes.
                CacheWrite1h {
                    attribute: AI_USAGE_CACHE_WRITE_1H_INPUT_TOKENS,
                    part_of: CacheWrite,
                    counted: within(CacheWrite),
                    usage: cache_write_1h_tokens,
                    /// Sets the cache writes kept an hour (Anthropic's `ephemeral_1h_input_tokens`),
                    /// already counted in `cache_creation_tokens`: priced at the one-hour
                    /// cache-write price instead of the five-minute one.
                    ///
                    /// ```
                    /// use tracing_ai::Usage;
                    ///
                    /// // 12,000 tokens in, 8,000 of them written to the cache, 6,000 for an hour.
                    /// let usage = Usage::new(12_000, 300)
                    ///     .with_cache_creation(8_000)
                    ///     .with_cache_write_1h(6_000);
                    /// assert_eq!(usage.cache_write_1h_tokens, Some(6_000));
                    /// ```
                    set_by: with_cache_write_1h,
                },
                /// Output tokens spent on reasoning.
                Reasoning {
                    attribute: GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
                    part_of: Output,
                    counted: metric(GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS),
                    usage: reasoning_tokens,
                    /// Sets the output tokens spent on reasoning (already counted in
                    /// `output_tokens`).
                    set_by: with_reasoning,
                },
                /// Audio input tokens not read from the provider's prompt cache (cached ones
                /// are in `cache_read_tokens`, so that no token is counted twice).
                AudioInput {
                    attribute: AI_USAGE_AUDIO_INPUT_TOKENS,
                    part_of: Input,
                    counted: modality("audio"),
                    usage: audio_input_tokens,
                    /// Sets the audio tokens among the input tokens, leaving out those read
                    /// from the prompt cache (already counted in `cache_read_tokens`): priced
                    /// at the model's audio input rate instead of its input rate.
                    ///
                    /// ```
                    /// use tracing_ai::Usage;
                    ///
                    /// // 1,000 tokens in, 400 of them audio; 100 out, 20 of them audio.
                    /// let usage = Usage::new(1_000, 100).with_audio_input(400).with_audio_output(20);
                    /// assert_eq!(usage.audio_input_tokens, Some(400));
                    /// ```
                    set_by: with_audio_input,
                },
                /// Audio output tokens.
                AudioOutput {
                    attribute: AI_USAGE_AUDIO_OUTPUT_TOKENS,
                    part_of: Output,
                    counted: modality("audio"),
                    usage: audio_output_tokens,
                    /// Sets the audio tokens among the output tokens (already counted in
                    /// `output_tokens`): priced at the model's audio output rate instead of
                    /// its output rate.
                    set_by: with_audio_output,
                },
                /// Web searches the model made on the provider's side: not tokens, part of no
                /// count, billed per thousand.
                WebSearches {
                    attribute: AI_USAGE_WEB_SEARCHES,
                    counted: apart("searches"),
                    usage: web_searches,
                    /// Sets the web searches the model made on the provider's side during the
                    /// call (Anthropic's `server_tool_use.web_search_requests`, OpenAI's
                    /// `web_search_call` items): billed per thousand beside the tokens, at the
                    /// model's web-search price.
                    ///
                    /// ```
                    /// use tracing_ai::Usage;
                    ///
                    /// let usage = Usage::new(12_000, 800).with_web_searches(3);
                    /// assert_eq!(usage.web_searches, Some(3));
                    /// ```
                    set_by: with_web_searches,
                },
            ],
            // `Empty` on every `#[ai_span]` span, recorded by the expansion, the application
            // or the layer.
            recorded: [
                GEN_AI_RESPONSE_MODEL: ResponseModel by "usage = ...",
                GEN_AI_RESPONSE_ID: Ignored,
                ERROR_TYPE: ErrorType,
                OTEL_STATUS_CODE: StatusCode,
                OTEL_STATUS_DESCRIPTION: StatusDescription,
                AI_CACHE_HIT: CacheHit,
                AI_FALLBACK_USED: Fallback,
                AI_FALLBACK_FROM: FallbackFrom,
            ],
            // `Empty`, declared (with the token counts) only for a layer that reads `tracing`
            // fields, or no AI layer: a layer that writes straight onto the OpenTelemetry
            // span takes them from the call itself. The ids are declared for the attribution
            // the layer writes there as fields; which fields are attribution keys is the
            // layer's configuration, not a fact of the call.
            for_fields: [
                GEN_AI_USAGE_COST: Cost by "usage = ...",
                OPENAI_RESPONSE_SERVICE_TIER: ResponseServiceTier by "usage = ...",
                AI_REQUEST_BATCH: Batch by "batch",
                AI_COST_AMOUNT: Ignored,
                AI_COST_CURRENCY: Ignored,
                AI_COST_SOURCE: Ignored,
                AI_COST_UNPRICED: Ignored,
                TENANT_ID: Ignored,
                FEATURE_ID: Ignored,
                REQUEST_ID: Ignored,
                USER_ID: Ignored,
                SESSION_ID: Ignored,
            ],
            // `Empty`, declared by the spans of `stream` functions only: the stream's wrapper
            // records them.
            with_stream: [
                GEN_AI_REQUEST_STREAM: Stream,
                GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: TimeToFirstChunk,
                AI_STREAM_CHUNKS: StreamChunks,
                AI_STREAM_CANCELLED: StreamCancelled,
            ],
        }
    };
}

/// Generates [`TokenKind`] from the table's counts.
macro_rules! token_kinds {
    (
        wholes: [$(
            $(#[doc = $whole_doc:literal])*
            $whole:ident {
                attribute: $whole_attribute:ident,
                counted: $whole_counted:ident($whole_by:tt),
                usage: $whole_usage:ident $(,)?
            }
        ),* $(,)?],
        parts: [$(
            $(#[doc = $part_doc:literal])*
            $part:ident {
                attribute: $part_attribute:ident,
                $(part_of: $part_of:ident,)?
                counted: $part_counted:ident($part_by:tt),
                usage: $part_usage:ident,
                $(#[doc = $setter_doc:literal])*
                set_by: $setter:ident $(,)?
            }
        ),* $(,)?],
        $($other_facts:tt)*
    ) => {
        /// One of the counts of a call: its tokens, and the units billed apart from them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub(crate) enum TokenKind {
            $( $(#[doc = $whole_doc])* $whole, )*
            $( $(#[doc = $part_doc])* $part, )*
        }

        impl TokenKind {
            /// Every kind, in declaration order (the index of a count in [`TokenCounts`]).
            pub(crate) const ALL: [TokenKind; [$(stringify!($whole),)* $(stringify!($part)),*].len()] =
                [$(TokenKind::$whole,)* $(TokenKind::$part),*];

            /// The attribute the count is exported as.
            pub(crate) const fn name(self) -> &'static str {
                match self {
                    $(TokenKind::$whole => attr::$whole_attribute,)*
                    $(TokenKind::$part => attr::$part_attribute,)*
                }
            }

            /// The count this one is part of: `None` for the input and the output, and for
            /// a count apart from the tokens.
            pub(crate) const fn part_of(self) -> Option<TokenKind> {
                match self {
                    $(TokenKind::$whole => None,)*
                    $(TokenKind::$part => token_kinds!(@part_of $($part_of)?),)*
                }
            }

            /// The counter of the conventions' current metrics that sums this count over
            /// calls (`gen_ai.client.inference.usage.*`); `None` for a count the conventions
            /// split its whole's by `gen_ai.token.modality` with instead (audio).
            pub(crate) const fn usage_metric(self) -> Option<&'static str> {
                match self {
                    $(TokenKind::$whole => token_kinds!(@metric $whole_counted($whole_by)),)*
                    $(TokenKind::$part => token_kinds!(@metric $part_counted($part_by)),)*
                }
            }

            /// The `gen_ai.token.modality` of the share of its whole this count is, if any.
            pub(crate) const fn modality(self) -> Option<&'static str> {
                match self {
                    $(TokenKind::$whole => token_kinds!(@modality $whole_counted($whole_by)),)*
                    $(TokenKind::$part => token_kinds!(@modality $part_counted($part_by)),)*
                }
            }

            /// The count `usage` reports of this kind.
            pub(crate) fn of_usage(self, usage: &Usage) -> Option<u64> {
                match self {
                    $(TokenKind::$whole => Some(usage.$whole_usage),)*
                    $(TokenKind::$part => usage.$part_usage,)*
                }
            }
        }
    };
    (@part_of) => { None };
    (@part_of $whole:ident) => { Some(TokenKind::$whole) };
    (@metric metric($name:ident)) => { Some(attr::$name) };
    (@metric modality($modality:literal)) => { None };
    (@metric within($whole:ident)) => { None };
    (@metric apart($unit:literal)) => { None };
    (@modality metric($name:ident)) => { None };
    (@modality modality($modality:literal)) => { Some($modality) };
    (@modality within($whole:ident)) => { None };
    (@modality apart($unit:literal)) => { None };
}

crate::__facts!([token_kinds]);

impl TokenKind {
    /// How many kinds there are.
    pub(crate) const COUNT: usize = Self::ALL.len();

    /// The index of this kind's count.
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// The counts a call recorded: each kind's (0 until it is recorded), and which were recorded.
/// Half the size of an `Option` per kind: a call's fields are moved several times at its close.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RecordedCounts {
    counts: TokenCounts,
    /// Bit [`TokenKind::index`] is set for each kind recorded.
    recorded: u16,
}

const _: () = assert!(TokenKind::COUNT <= u16::BITS as usize);

impl RecordedCounts {
    const fn bit(kind: TokenKind) -> u16 {
        1 << kind.index()
    }

    /// The count of `kind`, when it was recorded.
    pub(crate) fn get(&self, kind: TokenKind) -> Option<u64> {
        (self.recorded & Self::bit(kind) != 0).then(|| self.counts.get(kind))
    }

    pub(crate) fn set(&mut self, kind: TokenKind, count: u64) {
        self.counts.0[kind.index()] = count;
        self.recorded |= Self::bit(kind);
    }

    /// Takes every count `newer` recorded.
    pub(crate) fn update(&mut self, newer: RecordedCounts) {
        for kind in TokenKind::ALL {
            if let Some(count) = newer.get(kind) {
                self.set(kind, count);
            }
        }
    }

    /// The counts, 0 for a kind not recorded, when the call recorded its input or output.
    pub(crate) fn tokens(&self) -> Option<TokenCounts> {
        let whole = Self::bit(TokenKind::Input) | Self::bit(TokenKind::Output);
        (self.recorded & whole != 0).then_some(self.counts)
    }
}

/// Token counts of one call, as the GenAI conventions count them: a part (cached tokens,
/// reasoning tokens) is also counted in its whole (the input, the output).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TokenCounts(pub(crate) [u64; TokenKind::COUNT]);

impl TokenCounts {
    /// The count of `kind`.
    pub(crate) fn get(&self, kind: TokenKind) -> u64 {
        self.0[kind.index()]
    }

    /// Input tokens.
    pub(crate) fn input(&self) -> u64 {
        self.get(TokenKind::Input)
    }

    /// Output tokens.
    pub(crate) fn output(&self) -> u64 {
        self.get(TokenKind::Output)
    }

    /// The counts of `pairs`, 0 for every other kind.
    pub(crate) fn of(pairs: &[(TokenKind, u64)]) -> Self {
        let mut counts = Self::default();
        for &(kind, count) in pairs {
            counts.0[kind.index()] = count;
        }
        counts
    }

    /// What the parts of `whole` add up to (`None` past `u64::MAX`).
    pub(crate) fn parts_of(&self, whole: TokenKind) -> Option<u64> {
        TokenKind::ALL
            .into_iter()
            .filter(|kind| kind.part_of() == Some(whole))
            .try_fold(0_u64, |sum, kind| sum.checked_add(self.get(kind)))
    }
}

/// The fact a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Operation,
    Provider,
    RequestModel,
    ResponseModel,
    /// The tool a `kind = "tool"` span runs (`gen_ai.tool.name`): a price set for its name
    /// prices its calls.
    ToolName,
    /// Made through a Batch API (`ai.request.batch`).
    Batch,
    /// The service tier asked for (`openai.request.service_tier`).
    RequestServiceTier,
    /// The service tier that served the call (`openai.response.service_tier`).
    ResponseServiceTier,
    /// A token count.
    Tokens(TokenKind),
    Cost,
    ErrorType,
    StatusCode,
    StatusDescription,
    CacheHit,
    Fallback,
    FallbackFrom,
    Stream,
    TimeToFirstChunk,
    StreamChunks,
    StreamCancelled,
    ServerAddress,
    ServerPort,
    /// An attribution key, by the index of its exported name.
    Attribution(usize),
    /// Nothing the layer reads.
    Ignored,
}

impl Slot {
    /// Whether a count goes here: a negative value is then left out rather than priced.
    pub(crate) fn is_count(self) -> bool {
        matches!(self, Slot::Tokens(_))
    }
}

/// How an `#[ai_span]` span declares a fact's field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Declared {
    /// With a value when the span is created, from an argument of the macro.
    AtCreation,
    /// `Empty` when the span is created, recorded later (by the expansion, the application
    /// or the layer).
    Empty,
    /// `Empty`, only by the span of a call whose layer reads `tracing` fields (or that has no
    /// AI layer): a layer that writes straight onto the OpenTelemetry span takes these from
    /// the call itself, so that `#[ai_span]` declares them only for `fmt` and other layers.
    ForFields,
    /// `Empty`, only by the span of a `stream` function: the stream's wrapper records them.
    WithStream,
    /// Not by every `#[ai_span]` span: by some kinds only, or never (a name other
    /// instrumentations use).
    No,
}

/// One fact of a call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fact {
    /// The field and attribute name.
    pub(crate) name: &'static str,
    /// What the layer reads it as.
    pub(crate) slot: Slot,
    /// How an `#[ai_span]` span declares it (read by the test that holds the span macro to
    /// this declaration).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) declared: Declared,
    /// The argument of `#[ai_span]` that records it, when `fields(...)` may not (read by the
    /// test that holds the attribute macro to this declaration, which needs the macros).
    #[cfg_attr(not(all(test, feature = "macros")), allow(dead_code))]
    pub(crate) argument: Option<&'static str>,
}

const fn fact(
    name: &'static str,
    slot: Slot,
    declared: Declared,
    argument: Option<&'static str>,
) -> Fact {
    Fact {
        name,
        slot,
        declared,
        argument,
    }
}

/// Generates the facts of the table as [`Fact`]s: the `Empty` ones, the counts, those for a
/// layer that reads fields, those of streams.
macro_rules! table_facts {
    (
        wholes: [$( $(#[doc = $whole_doc:literal])* $whole:ident { $($whole_row:tt)* } ),* $(,)?],
        parts: [$( $(#[doc = $part_doc:literal])* $part:ident { $($part_row:tt)* } ),* $(,)?],
        recorded: [$( $recorded:ident: $recorded_slot:ident $(by $recorded_by:literal)? ),* $(,)?],
        for_fields: [$( $for_fields:ident: $for_fields_slot:ident $(by $for_fields_by:literal)? ),* $(,)?],
        with_stream: [$( $with_stream:ident: $with_stream_slot:ident ),* $(,)?] $(,)?
    ) => {
        [
            $(fact(attr::$recorded, Slot::$recorded_slot, Declared::Empty, table_facts!(@by $($recorded_by)?)),)*
            $(fact(TokenKind::$whole.name(), Slot::Tokens(TokenKind::$whole), Declared::ForFields, Some(USAGE)),)*
            $(fact(TokenKind::$part.name(), Slot::Tokens(TokenKind::$part), Declared::ForFields, Some(USAGE)),)*
            $(fact(attr::$for_fields, Slot::$for_fields_slot, Declared::ForFields, table_facts!(@by $($for_fields_by)?)),)*
            $(fact(attr::$with_stream, Slot::$with_stream_slot, Declared::WithStream, None),)*
        ]
    };
    (@by) => { None };
    (@by $by:literal) => { Some($by) };
}

/// Every fact a call's span may carry, with what the layer reads it as: the table's, and those
/// the span macro's arguments fill or `#[ai_span]` does not declare.
pub(crate) const FACTS: &[Fact] = &{
    use Declared::{AtCreation, No};
    const FROM_ARGUMENTS: [Fact; 13] = [
        fact(
            attr::GEN_AI_OPERATION_NAME,
            Slot::Operation,
            AtCreation,
            Some("kind = \"...\""),
        ),
        fact(
            attr::GEN_AI_PROVIDER_NAME,
            Slot::Provider,
            AtCreation,
            Some("provider = ..."),
        ),
        fact(
            attr::GEN_AI_REQUEST_MODEL,
            Slot::RequestModel,
            AtCreation,
            Some("model = ..."),
        ),
        fact(attr::OTEL_KIND, Slot::Ignored, AtCreation, None),
        fact(
            attr::OTEL_NAME,
            Slot::Ignored,
            AtCreation,
            Some("name = \"...\""),
        ),
        fact(
            attr::GEN_AI_RESPONSE_FINISH_REASONS,
            Slot::Ignored,
            No,
            None,
        ),
        fact(
            attr::GEN_AI_TOOL_NAME,
            Slot::ToolName,
            No,
            Some("tool = ..."),
        ),
        fact(
            attr::GEN_AI_AGENT_NAME,
            Slot::Ignored,
            No,
            Some("agent = ..."),
        ),
        // Read from `input = ...`'s request parameters at close, or from another
        // instrumentation's span.
        fact(
            attr::OPENAI_REQUEST_SERVICE_TIER,
            Slot::RequestServiceTier,
            No,
            Some("service_tier = ..."),
        ),
        fact(
            attr::SERVER_ADDRESS,
            Slot::ServerAddress,
            No,
            Some("endpoint = ..."),
        ),
        fact(
            attr::SERVER_PORT,
            Slot::ServerPort,
            No,
            Some("endpoint = ..."),
        ),
        // The conventions' name for cache writes until 1.42, which other instrumentations
        // still write.
        fact(
            attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            Slot::Tokens(TokenKind::CacheWrite),
            No,
            Some(USAGE),
        ),
        // rig-core's name (0.44) for the reasoning part of the output tokens.
        fact(
            "gen_ai.usage.reasoning_tokens",
            Slot::Tokens(TokenKind::Reasoning),
            No,
            Some(USAGE),
        ),
    ];
    const TABLE: [Fact; 33] = crate::__facts!([table_facts]);
    let mut all = [FROM_ARGUMENTS[0]; FROM_ARGUMENTS.len() + TABLE.len()];
    let mut index = 0;
    while index < all.len() {
        all[index] = if index < FROM_ARGUMENTS.len() {
            FROM_ARGUMENTS[index]
        } else {
            TABLE[index - FROM_ARGUMENTS.len()]
        };
        index += 1;
    }
    all
};

/// The argument that records usage.
const USAGE: &str = "usage = ...";

/// A span is an AI span when it declares `gen_ai.operation.name`, whoever created it.
pub(crate) fn is_ai_span(metadata: &tracing::Metadata<'_>) -> bool {
    metadata
        .fields()
        .field(attr::GEN_AI_OPERATION_NAME)
        .is_some()
}

/// The fact a field named `name` holds, unless it is an attribution key (the layer's
/// configuration decides those).
pub(crate) fn slot_of(name: &str) -> Slot {
    FACTS
        .iter()
        .find(|fact| fact.name == name)
        .map_or(Slot::Ignored, |fact| fact.slot)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{Declared, Slot, TokenKind, FACTS};

    #[test]
    fn each_fact_is_declared_once() {
        let mut names = BTreeSet::new();
        for fact in FACTS {
            assert!(names.insert(fact.name), "{} is declared twice", fact.name);
        }
        for kind in TokenKind::ALL {
            assert_eq!(super::slot_of(kind.name()), Slot::Tokens(kind));
            assert_eq!(TokenKind::ALL[kind.index()], kind);
        }
    }

    /// The span macro's field lists are written out for `tracing::span!`: each must be the
    /// facts an `#[ai_span]` span declares under its kind of layer, no more, no fewer.
    #[test]
    fn the_span_macro_declares_exactly_the_declared_facts() {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt as _;

        fn declared_by(
            subscriber: impl tracing::Subscriber + Send + Sync,
        ) -> BTreeSet<&'static str> {
            declared_by_with(subscriber, false)
        }
        fn declared_by_with(
            subscriber: impl tracing::Subscriber + Send + Sync,
            stream: bool,
        ) -> BTreeSet<&'static str> {
            macro_rules! span {
                ($streamed:tt) => {
                    crate::__tracing_ai_span!(
                        target: "facts",
                        level: tracing::Level::INFO,
                        name: "chat m",
                        operation: "chat",
                        provider: "p",
                        model: "m",
                        otel_kind: tracing::field::Empty,
                        otel_name: tracing::field::Empty,
                        streamed: $streamed,
                        fields: {}
                    )
                };
            }
            let span = tracing::subscriber::with_default(subscriber, || {
                if stream {
                    span!(true)
                } else {
                    span!(false)
                }
            });
            let metadata = span.metadata().expect("enabled");
            metadata.fields().iter().map(|f| f.name()).collect()
        }
        let facts = |declared: &[Declared]| -> BTreeSet<&str> {
            FACTS
                .iter()
                .filter(|fact| declared.contains(&fact.declared))
                .map(|fact| fact.name)
                .collect()
        };
        // No AI layer, or one that writes fields: every field a layer could read.
        assert_eq!(
            declared_by(tracing_subscriber::registry()),
            facts(&[Declared::AtCreation, Declared::Empty, Declared::ForFields])
        );
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        assert_eq!(
            declared_by(
                tracing_subscriber::registry().with(
                    crate::AiLayer::builder()
                        .with_tracing_fields(true)
                        .build()
                        .expect("valid")
                )
            ),
            facts(&[Declared::AtCreation, Declared::Empty, Declared::ForFields])
        );
        // Composed with OpenTelemetry: the layer takes usage, cost and ids from the call.
        assert_eq!(
            declared_by(
                tracing_subscriber::registry().with(crate::layer(provider.tracer("facts")))
            ),
            facts(&[Declared::AtCreation, Declared::Empty])
        );
        // A stream's span, besides, what the stream's wrapper records.
        assert_eq!(
            declared_by_with(
                tracing_subscriber::registry().with(crate::layer(provider.tracer("facts"))),
                true
            ),
            facts(&[Declared::AtCreation, Declared::Empty, Declared::WithStream])
        );
    }

    /// The attribute macro reserves the fields its arguments record: the facts that name an
    /// argument, by name, or by a prefix that covers every token count (so that a new count
    /// needs no change there).
    #[cfg(feature = "macros")]
    #[test]
    fn the_attribute_macro_reserves_exactly_the_facts_its_arguments_record() {
        /// `(field or prefix, argument)`.
        type Reserved = &'static [(&'static str, &'static str)];
        let (names, prefixes): (Reserved, Reserved) = tracing_ai_macros::__reserved_fields!();
        let reserved_for = |name: &str| {
            names
                .iter()
                .chain(prefixes)
                .find(|(reserved, _)| {
                    name == *reserved || (reserved.ends_with('.') && name.starts_with(reserved))
                })
                .map(|(_, argument)| *argument)
        };
        for fact in FACTS {
            assert_eq!(reserved_for(fact.name), fact.argument, "{}", fact.name);
        }
        for (name, _) in names {
            assert!(
                FACTS.iter().any(|fact| fact.name == *name),
                "{name} is not a fact"
            );
        }
        for kind in TokenKind::ALL {
            assert!(
                prefixes
                    .iter()
                    .any(|(prefix, _)| kind.name().starts_with(prefix)),
                "{} is under no reserved prefix: a new count's name must be",
                kind.name()
            );
        }
    }
}
