//! A model call's facts, each declared once.
//!
//! Everything that reads or writes a call's facts takes it from here: the layer's field reader
//! (which fact a field of a span holds), the usage the `#[ai_span]` expansion records, the
//! token counts pricing multiplies, and the span's declared fields. Two lists cannot be kept
//! here because they are written where Rust needs literal tokens: the fields the span macro
//! declares (`__private::__tracing_ai_span!`) and the names the attribute macro reserves
//! (`tracing-ai-macros`); the tests at the end of this file fail when either disagrees with
//! [`FACTS`].
//!
//! Adding a token count (audio tokens, say) is one row of [`token_kinds!`] plus its price in
//! `pricing/` (the compiler asks for it there); the rest follows.

use crate::attr;
use crate::usage::Usage;

/// Declares the token counts of a call: [`TokenKind`], its exported names, where each is
/// found in a [`Usage`], and which count it is part of (a part is priced at its own rate
/// instead of its whole's).
macro_rules! token_kinds {
    ($(
        $(#[doc = $doc:literal])*
        $kind:ident {
            name: $name:expr,
            part_of: $part_of:expr,
            usage_metric: $usage_metric:expr,
            from_usage: |$usage:ident| $from_usage:expr $(,)?
        }
    ),* $(,)?) => {
        /// One of the token counts of a call.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub(crate) enum TokenKind {
            $( $(#[doc = $doc])* $kind, )*
        }

        impl TokenKind {
            /// Every kind, in declaration order (the index of a count in [`TokenCounts`]).
            pub(crate) const ALL: [TokenKind; [$(stringify!($kind)),*].len()] =
                [$(TokenKind::$kind),*];

            /// The attribute the count is exported as.
            pub(crate) const fn name(self) -> &'static str {
                match self {
                    $(TokenKind::$kind => $name,)*
                }
            }

            /// The count this one is part of: `None` for the input and the output.
            pub(crate) const fn part_of(self) -> Option<TokenKind> {
                match self {
                    $(TokenKind::$kind => $part_of,)*
                }
            }

            /// The counter of the conventions' current metrics that sums this count over
            /// calls (`gen_ai.client.inference.usage.*`); `None` for a count the conventions
            /// split by `gen_ai.token.modality` instead (audio).
            pub(crate) const fn usage_metric(self) -> Option<&'static str> {
                match self {
                    $(TokenKind::$kind => $usage_metric,)*
                }
            }

            /// The count `usage` reports of this kind.
            pub(crate) fn of_usage(self, usage: &Usage) -> Option<u64> {
                match self {
                    $(TokenKind::$kind => {
                        let $usage = usage;
                        $from_usage
                    })*
                }
            }
        }
    };
}

token_kinds! {
    /// Input tokens, cached ones included.
    Input {
        name: attr::GEN_AI_USAGE_INPUT_TOKENS,
        part_of: None,
        usage_metric: Some(attr::GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS),
        from_usage: |usage| Some(usage.input_tokens),
    },
    /// Output tokens, reasoning ones included.
    Output {
        name: attr::GEN_AI_USAGE_OUTPUT_TOKENS,
        part_of: None,
        usage_metric: Some(attr::GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS),
        from_usage: |usage| Some(usage.output_tokens),
    },
    /// Input tokens read from the provider's prompt cache.
    CacheRead {
        name: attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        part_of: Some(TokenKind::Input),
        usage_metric: Some(attr::GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS),
        from_usage: |usage| usage.cache_read_tokens,
    },
    /// Input tokens written to the provider's prompt cache.
    CacheWrite {
        name: attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
        part_of: Some(TokenKind::Input),
        usage_metric: Some(attr::GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS),
        from_usage: |usage| usage.cache_creation_tokens,
    },
    /// Output tokens spent on reasoning.
    Reasoning {
        name: attr::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        part_of: Some(TokenKind::Output),
        usage_metric: Some(attr::GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS),
        from_usage: |usage| usage.reasoning_tokens,
    },
    /// Audio input tokens not read from the cache.
    AudioInput {
        name: attr::AI_USAGE_AUDIO_INPUT_TOKENS,
        part_of: Some(TokenKind::Input),
        usage_metric: None,
        from_usage: |usage| usage.audio_input_tokens,
    },
    /// Audio output tokens.
    AudioOutput {
        name: attr::AI_USAGE_AUDIO_OUTPUT_TOKENS,
        part_of: Some(TokenKind::Output),
        usage_metric: None,
        from_usage: |usage| usage.audio_output_tokens,
    },
}

impl TokenKind {
    /// How many kinds there are.
    pub(crate) const COUNT: usize = Self::ALL.len();

    /// The index of this kind's count.
    pub(crate) const fn index(self) -> usize {
        self as usize
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

    /// `count` tokens of `kind`, none of any other.
    pub(crate) fn only(kind: TokenKind, count: u64) -> Self {
        Self::of(&[(kind, count)])
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
    /// test that holds the attribute macro to this declaration).
    #[cfg_attr(not(test), allow(dead_code))]
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

/// Every fact a call's span may carry, with what the layer reads it as.
pub(crate) const FACTS: &[Fact] = &{
    use Declared::{AtCreation, Empty, ForFields, No, WithStream};
    const FIXED: [Fact; 33] = [
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
            attr::GEN_AI_RESPONSE_MODEL,
            Slot::ResponseModel,
            Empty,
            Some(USAGE),
        ),
        fact(attr::GEN_AI_RESPONSE_ID, Slot::Ignored, Empty, None),
        fact(
            attr::GEN_AI_RESPONSE_FINISH_REASONS,
            Slot::Ignored,
            No,
            None,
        ),
        fact(
            attr::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
            Slot::TimeToFirstChunk,
            WithStream,
            None,
        ),
        fact(attr::GEN_AI_REQUEST_STREAM, Slot::Stream, WithStream, None),
        fact(attr::AI_STREAM_CHUNKS, Slot::StreamChunks, WithStream, None),
        fact(
            attr::AI_STREAM_CANCELLED,
            Slot::StreamCancelled,
            WithStream,
            None,
        ),
        fact(attr::ERROR_TYPE, Slot::ErrorType, Empty, None),
        fact(attr::GEN_AI_USAGE_COST, Slot::Cost, ForFields, None),
        fact(attr::AI_COST_AMOUNT, Slot::Ignored, ForFields, None),
        fact(attr::AI_COST_CURRENCY, Slot::Ignored, ForFields, None),
        fact(attr::AI_COST_SOURCE, Slot::Ignored, ForFields, None),
        fact(attr::AI_COST_UNPRICED, Slot::Ignored, ForFields, None),
        fact(attr::AI_CACHE_HIT, Slot::CacheHit, Empty, None),
        fact(attr::AI_FALLBACK_USED, Slot::Fallback, Empty, None),
        fact(attr::AI_FALLBACK_FROM, Slot::FallbackFrom, Empty, None),
        fact(attr::OTEL_STATUS_CODE, Slot::StatusCode, Empty, None),
        fact(
            attr::OTEL_STATUS_DESCRIPTION,
            Slot::StatusDescription,
            Empty,
            None,
        ),
        fact(
            attr::GEN_AI_TOOL_NAME,
            Slot::Ignored,
            No,
            Some("tool = ..."),
        ),
        fact(
            attr::GEN_AI_AGENT_NAME,
            Slot::Ignored,
            No,
            Some("agent = ..."),
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
        // rig-core's name (0.44) for the reasoning part of the output tokens.
        fact(
            "gen_ai.usage.reasoning_tokens",
            Slot::Tokens(TokenKind::Reasoning),
            No,
            None,
        ),
        // Declared for the attribution the layer writes there as fields; which fields are
        // attribution keys is the layer's configuration, not a fact of the call.
        fact(attr::TENANT_ID, Slot::Ignored, ForFields, None),
        fact(attr::FEATURE_ID, Slot::Ignored, ForFields, None),
        fact(attr::REQUEST_ID, Slot::Ignored, ForFields, None),
        fact(attr::USER_ID, Slot::Ignored, ForFields, None),
        fact(attr::SESSION_ID, Slot::Ignored, ForFields, None),
    ];
    let mut all = [FIXED[0]; FIXED.len() + TokenKind::COUNT];
    let mut index = 0;
    while index < FIXED.len() {
        all[index] = FIXED[index];
        index += 1;
    }
    let mut kind = 0;
    while kind < TokenKind::COUNT {
        let token = TokenKind::ALL[kind];
        all[FIXED.len() + kind] = fact(token.name(), Slot::Tokens(token), ForFields, Some(USAGE));
        kind += 1;
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
            let span = tracing::subscriber::with_default(subscriber, || {
                crate::__tracing_ai_span!(
                    target: "facts",
                    level: tracing::Level::INFO,
                    name: "chat m",
                    operation: "chat",
                    provider: "p",
                    model: "m",
                    otel_kind: tracing::field::Empty,
                    otel_name: tracing::field::Empty,
                    fields: {}
                )
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
    }

    /// The attribute macro reserves the fields its arguments record: the facts that name an
    /// argument.
    #[cfg(feature = "macros")]
    #[test]
    fn the_attribute_macro_reserves_exactly_the_facts_its_arguments_record() {
        let reserved: &[(&str, &str)] = tracing_ai_macros::__reserved_fields!();
        let reserved: BTreeSet<(&str, &str)> = reserved.iter().copied().collect();
        let facts: BTreeSet<(&str, &str)> = FACTS
            .iter()
            .filter_map(|fact| Some((fact.name, fact.argument?)))
            .collect();
        assert_eq!(reserved, facts);
    }
}
