//! The one door from the rest of the crate into a span's AI data: what the `#[ai_span]`
//! expansion, the budgets, content capture, retries and propagation read from or leave on the
//! open call a span is, as tracing-opentelemetry's `OpenTelemetrySpanExt` does for its
//! context.
//!
//! The layer never calls back into those modules: they call this trait, which reaches the
//! [`AiLayer`] of the span's subscriber through [`Dispatch::downcast_ref`], and does nothing
//! (or answers "no such call") without one. A module under the layer (the budget stores, the
//! prices) is one the layer calls; a module over it (the public helpers) calls here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::span::Id;
use tracing::{Dispatch, Metadata};

use super::access::{BookStep, SpanAccess};
use super::settle::ReservedBy;
use super::AiLayer;
use crate::budget::{
    Budget, BudgetExceeded, CallScope, Measure, Passed, Reserved, Reserving, Scope, WaitBy,
};
use crate::content::ContentSettings;
use crate::request::RequestParameters;

/// How the `#[ai_span]` expansion records a failed call on a span.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ErrorRecording {
    /// An `error.type` was already recorded (by the function's own body): it is kept.
    pub(crate) type_recorded: bool,
    /// The error's message is exported (redacted) as `otel.status_description`.
    pub(crate) describe: bool,
}

/// What the rest of the crate reads from and leaves on the open AI call a span is.
pub(crate) trait AiSpanExt {
    /// The content settings of the AI layer this span is recorded by, when it captures content.
    fn content_settings(&self) -> Option<Arc<ContentSettings>>;

    /// How to record a failed call on this span: known only through an [`AiLayer`]; without one,
    /// the message is described (redacted) and no type was recorded.
    fn error_recording(&self) -> ErrorRecording;

    /// The attribution this span inherits, nearest value of each exported name first found, as the
    /// [`AiLayer`] keeps it; empty without one.
    fn inherited_ids(&self) -> Vec<(Arc<str>, Arc<str>)>;

    /// Gives this span the attribution `ids` (exported name, value), for every AI span below it,
    /// through its [`AiLayer`]; nothing without one.
    fn attribute(&self, ids: &[(Arc<str>, Arc<str>)]);

    /// Keeps the request's `parameters` for the layer to write onto the open AI call this span
    /// is at close, in the same `set_attributes` as its cost; their output limit is what a
    /// budget reserves, their service tier and batch select the call's price. `false` when this
    /// span is no open AI call of an [`AiLayer`].
    fn write_at_close(&self, parameters: RequestParameters) -> bool;

    /// Counts one more attempt of the open AI call this span is (or is under, as an HTTP client
    /// span may be): its number, and the time since the previous attempt ended; `None` when there
    /// is no open AI call of an [`AiLayer`] there.
    fn begin_attempt(&self) -> Option<(u32, Option<Duration>)>;

    /// Marks the current attempt of the open AI call this span is (or is under) ended, now.
    fn end_attempt(&self);

    /// Keeps the text of the input of the open AI call this span is, for an estimate if it ends
    /// without usage, when its layer has an estimator; `text` is only called then.
    fn keep_for_estimate(&self, text: impl FnOnce() -> String);

    /// Starts the reservation of the estimated cost of the open AI call this span is in every
    /// budget of its layer that covers it (see [`crate::budget::reserve`]): the span's data is read
    /// under its lock, and the store is asked after it is released, so that a slow store never
    /// holds a span's lock. `None` when there is nothing to reserve: no layer, no budget, or the
    /// call reserved already (a call reserves once).
    fn begin_reservation(&self, wait: WaitBy) -> Option<(Reserving, Option<ReservedBy>)>;

    /// Keeps what the store answered for this span's reservation on its data (settled when the call
    /// ends), or gives it back at once when the call ended meanwhile; counts the budgets passed or
    /// refusing.
    fn finish_reservation(
        &self,
        reserved: Reserved,
        reserved_by: Option<ReservedBy>,
    ) -> Result<Vec<Passed>, BudgetExceeded>;

    /// Adds captured content to the one details event of the open AI call this span is, which the
    /// layer adds when the call ends, with its operation; `false` when this span is no open AI call
    /// of an [`AiLayer`] (add the event now, then).
    fn add_to_details_event(&self, attributes: &[opentelemetry::KeyValue]) -> bool;

    /// Records `usage` straight into the call's facts, when this span's [`AiLayer`] writes onto the
    /// OpenTelemetry span rather than as `tracing` fields: no trip through the dispatcher, and the
    /// layer writes the usage at close with the cost. `false` when it did not (no such layer, or
    /// one that other layers read fields from): record it as fields then.
    fn record_usage_directly(&self, usage: &crate::Usage) -> bool;
}

impl AiSpanExt for tracing::Span {
    fn content_settings(&self) -> Option<Arc<ContentSettings>> {
        self.with_subscriber(|(_, dispatch)| {
            let (layer, _) = layer_of(dispatch)?;
            layer.content_settings().cloned()
        })
        .flatten()
    }

    fn error_recording(&self) -> ErrorRecording {
        let mut recording = ErrorRecording {
            type_recorded: false,
            describe: true,
        };
        self.with_subscriber(|(id, dispatch)| {
            if let Some((_, access)) = layer_of(dispatch) {
                (access.with_call)(dispatch, id, &mut |data| {
                    recording = ErrorRecording {
                        type_recorded: data.fields.error_type.is_some(),
                        describe: data.describe_errors,
                    };
                });
            }
        });
        recording
    }

    fn inherited_ids(&self) -> Vec<(Arc<str>, Arc<str>)> {
        self.with_subscriber(|(id, dispatch)| match layer_of(dispatch) {
            Some((_, access)) => (access.attribution)(dispatch, id),
            None => Vec::new(),
        })
        .unwrap_or_default()
    }

    fn attribute(&self, ids: &[(Arc<str>, Arc<str>)]) {
        self.with_subscriber(|(id, dispatch)| {
            if let Some((layer, access)) = layer_of(dispatch) {
                (access.attribute)(dispatch, id, &layer.shared.keys, ids);
            }
        });
    }

    fn write_at_close(&self, parameters: RequestParameters) -> bool {
        self.with_subscriber(|(id, dispatch)| {
            let Some((_, access)) = layer_of(dispatch) else {
                return false;
            };
            let mut parameters = Some(parameters);
            (access.with_call)(dispatch, id, &mut |data| {
                if data.settled.is_some() {
                    return;
                }
                let Some(parameters) = parameters.take() else {
                    return;
                };
                data.at_close.extend(parameters.to_attributes());
                data.max_output_tokens = parameters.max_tokens;
                if let Some(tier) = parameters.service_tier {
                    data.fields.request_service_tier = Some(tier.into());
                }
                data.fields.request_batch |= parameters.batch;
                if !parameters.price_context.is_empty() {
                    data.fields.price_context = Some(Box::new(parameters.price_context));
                }
            });
            parameters.is_none()
        })
        .unwrap_or(false)
    }

    fn begin_attempt(&self) -> Option<(u32, Option<Duration>)> {
        self.with_subscriber(|(id, dispatch)| {
            let (_, access) = layer_of(dispatch)?;
            let (call, _) = (access.innermost_ai_span)(dispatch, id)?;
            let mut begun = None;
            (access.with_call)(dispatch, &call, &mut |data| {
                data.attempts = data.attempts.saturating_add(1);
                begun = Some((
                    data.attempts,
                    data.last_attempt_end.map(|end| end.elapsed()),
                ));
            });
            begun
        })
        .flatten()
    }

    fn end_attempt(&self) {
        self.with_subscriber(|(id, dispatch)| {
            let Some((_, access)) = layer_of(dispatch) else {
                return;
            };
            if let Some((call, _)) = (access.innermost_ai_span)(dispatch, id) {
                (access.with_call)(dispatch, &call, &mut |data| {
                    data.last_attempt_end = Some(Instant::now());
                });
            }
        });
    }

    fn keep_for_estimate(&self, text: impl FnOnce() -> String) {
        self.with_subscriber(|(id, dispatch)| {
            let Some((layer, access)) = layer_of(dispatch) else {
                return;
            };
            if layer.shared.estimator.is_none() {
                return;
            }
            let mut text = Some(text);
            (access.with_call)(dispatch, id, &mut |data| {
                if data.settled.is_none() {
                    data.estimate_input = text.take().map(|text| text());
                }
            });
        });
    }

    fn begin_reservation(&self, wait: WaitBy) -> Option<(Reserving, Option<ReservedBy>)> {
        self.with_subscriber(|(id, dispatch)| {
            let (layer, access) = layer_of(dispatch)?;
            let shared = &layer.shared;
            if !shared.budgets.any() {
                return None;
            }
            // Read only when a call's tokens can be priced, or an estimate converted.
            let mut prices = None;
            let mut ceiling = None;
            let mut tokens = None;
            let mut scope = CallScope::default();
            let mut booked = false;
            // A service behind a gateway knows its tenant from the trusted baggage: read before
            // the span's data is locked (the OpenTelemetry layer reads its own).
            let baggage = shared
                .keys
                .trusts_baggage()
                .then(|| tracing_opentelemetry::get_otel_context(id, dispatch))
                .flatten();
            (access.book)(dispatch, id, &mut |step| {
                match step {
                    BookStep::Plan(data) => {
                        if data.settled.is_some() || data.reservation.is_some() || data.reserving {
                            return false;
                        }
                        // After the spans' own values, which win.
                        if let Some(cx) = &baggage {
                            let baggage = opentelemetry::baggage::BaggageExt::baggage(cx);
                            for (name, index) in shared.keys.trusted_baggage() {
                                let value = baggage.get(name).and_then(|value| {
                                    crate::clean_id::from_baggage(value.as_str())
                                });
                                if let (Some(Some(scope_of_key)), Some(value)) =
                                    (shared.budget_scopes.get(index), value)
                                {
                                    scope.set_scope(*scope_of_key, &value);
                                }
                            }
                        }
                        if shared.estimator.is_some() {
                            let prices = prices.get_or_insert_with(|| shared.prices.now());
                            ceiling = super::settle::cost_ceiling(layer, prices, data);
                            tokens = super::settle::token_estimate(layer, data);
                        }
                        if let Some(model) = &data.fields.request_model {
                            scope.set_scope(Scope::Model, model);
                        }
                    }
                    BookStep::Id(index, value) => {
                        if let Some(Some(scope_of_key)) = shared.budget_scopes.get(index) {
                            scope.set_scope(*scope_of_key, value);
                        }
                    }
                    BookStep::Book(data) => {
                        data.reserving = true;
                        booked = true;
                    }
                }
                true
            });
            if !booked {
                return None;
            }
            // The request's own output limit first; else the budget's `per_call`; else all the
            // output the context window leaves room for; never nothing said.
            let mut reserved_by = None;
            let mut estimate = |budget: &Budget| {
                // A rate limit reserves tokens, or one call.
                let counted = match budget.measure() {
                    Measure::Money => None,
                    Measure::Requests | Measure::InFlight => Some(1),
                    Measure::Tokens => tokens.map(|(input, output)| input.saturating_add(output)),
                    Measure::InputTokens => tokens.map(|(input, _)| input),
                    Measure::OutputTokens => tokens.map(|(_, output)| output),
                };
                match counted {
                    Some(count) => return count as f64,
                    None if budget.is_rate_limit() => return budget.per_call_cost().unwrap_or(0.0),
                    None => {}
                }
                let usd = match (ceiling, budget.per_call_cost()) {
                    (Some((usd, ReservedBy::MaxTokens)), _) => {
                        reserved_by = Some(ReservedBy::MaxTokens);
                        usd
                    }
                    (_, Some(per_call)) => {
                        reserved_by = Some(ReservedBy::PerCall);
                        return per_call;
                    }
                    (Some((usd, by)), None) => {
                        reserved_by = Some(by);
                        usd
                    }
                    (None, None) => {
                        reserved_by = Some(ReservedBy::Nothing);
                        return 0.0;
                    }
                };
                if budget.currency() == "USD" {
                    return usd;
                }
                prices
                    .get_or_insert_with(|| shared.prices.now())
                    .currencies
                    .report(usd)
                    .map_or(usd, |(_, amount)| amount)
            };
            let reserving = shared
                .budgets
                .begin_reservation(&scope, &mut estimate, wait);
            Some((reserving, reserved_by))
        })
        .flatten()
    }

    fn finish_reservation(
        &self,
        reserved: Reserved,
        reserved_by: Option<ReservedBy>,
    ) -> Result<Vec<Passed>, BudgetExceeded> {
        let mut reserved = Some(reserved);
        let finished = self
            .with_subscriber(|(id, dispatch)| {
                let (layer, access) = layer_of(dispatch)?;
                let budgets = &layer.shared.budgets;
                let mut kept = None;
                let outcome = match reserved.take()? {
                    Ok((reservation, passed)) => {
                        for passed in &passed {
                            let outcome = match passed.waited {
                                Some(waited) => {
                                    budgets.waited(&passed.over, waited);
                                    "waited"
                                }
                                None => "warned",
                            };
                            budgets.counted(&passed.over, outcome);
                        }
                        kept = reservation;
                        Ok(passed)
                    }
                    Err(refused) => {
                        budgets.counted(&refused, "refused");
                        Err(refused)
                    }
                };
                (access.with_call)(dispatch, id, &mut |data| {
                    data.reserving = false;
                    if let Some(by) = reserved_by {
                        data.at_close.push(opentelemetry::KeyValue::new(
                            crate::attr::AI_BUDGET_RESERVED_BY,
                            by.as_str(),
                        ));
                    }
                    if data.settled.is_none() {
                        data.reservation = kept.take();
                    }
                });
                // The call ended while its store answered: nothing will settle what it holds.
                if let Some(reservation) = kept {
                    reservation.settle(&|_| None, budgets.time());
                    budgets.room_made();
                }
                Some(outcome)
            })
            .flatten();
        finished.unwrap_or_else(|| {
            reserved.map_or(Ok(Vec::new()), |reserved| {
                reserved.map(|(_, passed)| passed)
            })
        })
    }

    fn add_to_details_event(&self, attributes: &[opentelemetry::KeyValue]) -> bool {
        self.with_subscriber(|(id, dispatch)| {
            let Some((_, access)) = layer_of(dispatch) else {
                return false;
            };
            let mut added = false;
            (access.with_call)(dispatch, id, &mut |data| {
                if data.settled.is_none() {
                    data.details.extend_from_slice(attributes);
                    added = true;
                }
            });
            added
        })
        .unwrap_or(false)
    }

    fn record_usage_directly(&self, usage: &crate::Usage) -> bool {
        self.with_subscriber(|(id, dispatch)| {
            let Some((layer, access)) = layer_of(dispatch) else {
                return false;
            };
            layer.writes_directly()
                && (access.with_call)(dispatch, id, &mut |data| data.add_usage(usage))
        })
        .unwrap_or(false)
    }
}

/// The closest AI span among span `id` and its ancestors, through the [`AiLayer`] of
/// `dispatch`: `None` without one, `Some(None)` when there is no such span.
pub(crate) fn innermost_ai_span(
    dispatch: &Dispatch,
    id: &Id,
) -> Option<Option<(Id, &'static Metadata<'static>)>> {
    let (_, access) = layer_of(dispatch)?;
    Some((access.innermost_ai_span)(dispatch, id))
}

/// The [`AiLayer`] of `dispatch`, with access to its subscriber's spans.
fn layer_of(dispatch: &Dispatch) -> Option<(&AiLayer, SpanAccess)> {
    let layer = dispatch.downcast_ref::<AiLayer>()?;
    Some((layer, layer.access?))
}
