//! The tail sampler's settings, checked once.

use opentelemetry_sdk::trace::SpanProcessor;

use super::head::{HeadSampler, Ratio};
use super::policy::Policy;
use super::processor::{span_by_span, TailSamplingProcessor};
use crate::error::ConfigError;

/// The environment variable that sets the sample ratio, over what the code sets: operators
/// tune sampling without a rebuild. [`init`](crate::init) reads it;
/// [`TailSamplingBuilder::build`] does not.
pub const SAMPLE_RATIO_ENV: &str = "TRACING_AI_SAMPLE_RATIO";

/// The default bound on held spans: about 50 MiB of AI spans, at 2.5 KiB each (measured by
/// the `export` bench).
const DEFAULT_MAX_HELD_SPANS: usize = 20_000;

/// A checked tail-sampling configuration; made by [`TailSampling::builder`].
///
/// It makes the two halves that work together: the [`sampler`](Self::sampler) of the tracer
/// provider and the [`processor`](Self::processor) that decides.
#[derive(Clone, Debug)]
pub struct TailSampling {
    policy: Policy,
    max_held_spans: usize,
}

/// Configures [`TailSampling`]; made by [`TailSampling::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct TailSamplingBuilder {
    ratio: f64,
    keep_errors: bool,
    keep_fallbacks: bool,
    keep_cost_above: Option<f64>,
    max_held_spans: usize,
    follow_parent: bool,
}

impl Default for TailSamplingBuilder {
    fn default() -> Self {
        Self {
            ratio: 1.0,
            keep_errors: true,
            keep_fallbacks: true,
            keep_cost_above: None,
            max_held_spans: DEFAULT_MAX_HELD_SPANS,
            follow_parent: true,
        }
    }
}

impl TailSampling {
    /// Starts a configuration: every trace kept (ratio 1), errors and fallbacks kept, no cost
    /// threshold, at most 20,000 held spans.
    pub fn builder() -> TailSamplingBuilder {
        TailSamplingBuilder::default()
    }

    /// The sampler of the tracer provider: it records every span, so that the processor sees
    /// them all, and sets the sampled flag to what `parent` or `ratio` decide, so that the
    /// services this one calls can follow.
    pub fn sampler(&self) -> HeadSampler {
        HeadSampler {
            ratio: self.policy.ratio,
            follow_parent: self.policy.follow_parent,
        }
    }

    /// The processor that holds each local trace until its root ends, then hands it to
    /// `next` or drops it.
    pub fn processor<P: SpanProcessor>(&self, next: P) -> TailSamplingProcessor<P> {
        TailSamplingProcessor::new(next, span_by_span::<P>, self.policy, self.max_held_spans)
    }

    /// The processor, handing each kept trace to `next` by `forward`.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn processor_forwarding<P>(
        &self,
        next: P,
        forward: super::processor::Forward<P>,
    ) -> TailSamplingProcessor<P> {
        TailSamplingProcessor::new(next, forward, self.policy, self.max_held_spans)
    }

    /// The most spans held at once: the largest trace handed on whole.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn max_held_spans(&self) -> usize {
        self.max_held_spans
    }

    /// The ratio of traces kept by trace id.
    pub fn sample_ratio(&self) -> f64 {
        self.policy.ratio.ratio
    }
}

impl TailSamplingBuilder {
    /// Keeps this share of the traces that no other rule keeps, chosen by trace id: `0.05`
    /// keeps one in twenty. By default, 1 (every trace). [`init`](crate::init) sets it from
    /// [`SAMPLE_RATIO_ENV`] when that is set, over what the code says.
    pub fn with_sample_ratio(self, ratio: f64) -> Self {
        Self { ratio, ..self }
    }

    /// Keeps every trace with a span of error status. By default, on.
    pub fn with_keep_errors(self, keep: bool) -> Self {
        Self {
            keep_errors: keep,
            ..self
        }
    }

    /// Keeps every trace where a fallback model served a call (`ai.fallback.used`). By default, on.
    pub fn with_keep_fallbacks(self, keep: bool) -> Self {
        Self {
            keep_fallbacks: keep,
            ..self
        }
    }

    /// Keeps every trace whose model calls cost more than `usd` in all. By default, none.
    pub fn with_keep_cost_above(self, usd: f64) -> Self {
        Self {
            keep_cost_above: Some(usd),
            ..self
        }
    }

    /// Keeps every trace the calling service sampled (the sampled flag of its `traceparent`),
    /// so that a trace spanning services is whole. By default, on. Turn it off in a service
    /// at the edge, whose callers are outside: there anyone can send a sampled `traceparent`
    /// and have every one of their requests exported, whatever the ratio. The caller's flag
    /// is then ignored, and this service's rules alone decide.
    ///
    /// ```
    /// use tracing_ai::sampling::TailSampling;
    ///
    /// // The gateway: keeps failures and 5% of the rest, whatever its callers send.
    /// let edge = TailSampling::builder()
    ///     .with_sample_ratio(0.05)
    ///     .with_parent_sampled(false)
    ///     .build()?;
    /// # let _ = edge;
    /// # Ok::<(), tracing_ai::ConfigError>(())
    /// ```
    pub fn with_parent_sampled(self, follow: bool) -> Self {
        Self {
            follow_parent: follow,
            ..self
        }
    }

    /// Holds at most this many spans across all undecided traces; a trace that would go over
    /// is kept at once. By default, 20,000: an AI span holds about 2.5 KiB, so about 50 MiB.
    pub fn with_max_held_spans(self, spans: usize) -> Self {
        Self {
            max_held_spans: spans,
            ..self
        }
    }

    /// Checks the configuration. It reads no environment variable: [`init`](crate::init) does,
    /// before it calls this.
    ///
    /// # Errors
    ///
    /// A ratio outside 0..=1, a cost threshold that is not a finite amount of zero or more, or
    /// a bound of zero held spans; the message names the setting.
    pub fn build(self) -> Result<TailSampling, ConfigError> {
        if !(0.0..=1.0).contains(&self.ratio) {
            return Err(ConfigError::invalid_sampling(
                "sample_ratio",
                self.ratio.to_string(),
            ));
        }
        if let Some(usd) = self.keep_cost_above {
            if !usd.is_finite() || usd < 0.0 {
                return Err(ConfigError::invalid_sampling(
                    "keep_cost_above",
                    usd.to_string(),
                ));
            }
        }
        if self.max_held_spans == 0 {
            return Err(ConfigError::invalid_sampling(
                "max_held_spans",
                "0".to_owned(),
            ));
        }
        Ok(TailSampling {
            policy: Policy {
                ratio: Ratio::new(self.ratio),
                keep_errors: self.keep_errors,
                keep_fallbacks: self.keep_fallbacks,
                keep_cost_above: self.keep_cost_above,
                follow_parent: self.follow_parent,
            },
            max_held_spans: self.max_held_spans,
        })
    }
}
