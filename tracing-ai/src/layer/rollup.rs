//! A request's totals: what its model calls added up to, kept on its local root span and
//! written there when it closes, in `ai.request.*` attributes distinct from the per-call ones
//! so that a backend summing per-call costs never counts twice. An agent's span keeps the
//! same totals over the calls under it, written as `ai.agent.*`.

use std::sync::Arc;

use tracing_subscriber::registry::{ExtensionsMut, LookupSpan, SpanRef};

use super::fields::{AiSpanData, CallFields};
use super::write::{Writer, Written};
use crate::attr;
use crate::pricing::{CostSource, Currencies, Priced};
use crate::value_set::saturating_i64;

/// What a request's model calls added up to, in its local root's extensions. It stays there
/// after the root closes, for the layers over the AI layer (the console) to show.
#[derive(Debug, Default)]
pub(crate) struct RequestTotals {
    pub(crate) usd: f64,
    /// The part of `usd` that is estimated.
    pub(crate) estimated_usd: f64,
    pub(crate) input: u64,
    pub(crate) output: u64,
    pub(crate) calls: u64,
    pub(crate) unpriced: u64,
    /// The total in the reporting currency, set when the root closes.
    pub(crate) reported: Option<(Arc<str>, f64)>,
}

/// Whether a call counts as a call to a model: a retrieval or an agent's own span does not,
/// so that an agent's calls are not counted twice.
pub(crate) fn is_model_call(fields: &CallFields) -> bool {
    fields.request_model.is_some() || fields.tokens().is_some()
}

/// What one AI span adds to the totals above it: taken from the call while its span is
/// locked, added to its root's under the root's lock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Addition {
    /// A call to a model: counted, its tokens added, unpriced if it has no cost.
    model_call: bool,
    /// Its cost in USD, when it has one (recorded or priced).
    usd: Option<f64>,
    estimated: bool,
    input: u64,
    output: u64,
}

impl Addition {
    pub(crate) fn of(fields: &CallFields, priced: &Priced) -> Self {
        let (usd, estimated) = match priced {
            Priced::Cost { usd, source, .. } => (Some(*usd), *source == CostSource::Estimated),
            Priced::Unpriced { .. } | Priced::NoUsage { .. } => (None, false),
            Priced::Nothing => (Some(fields.recorded_cost.unwrap_or(0.0)), false),
        };
        let tokens = fields.tokens();
        Self {
            model_call: is_model_call(fields),
            // A tool or service billed by the call adds its cost, nothing it recorded.
            usd: usd.filter(|_| is_model_call(fields) || matches!(priced, Priced::Cost { .. })),
            estimated: estimated && is_model_call(fields),
            input: tokens.map_or(0, |t| t.input()),
            output: tokens.map_or(0, |t| t.output()),
        }
    }
}

impl RequestTotals {
    /// Adds one AI span.
    pub(crate) fn add(&mut self, addition: &Addition) {
        if let Some(usd) = addition.usd {
            self.usd += usd;
            if addition.estimated {
                self.estimated_usd += usd;
            }
        }
        if !addition.model_call {
            // A tool or service billed by the call: its cost, not a call to a model.
            return;
        }
        self.calls += 1;
        self.input = self.input.saturating_add(addition.input);
        self.output = self.output.saturating_add(addition.output);
        if addition.usd.is_none() {
            self.unpriced += 1;
        }
    }

    /// Writes the totals as a request's, and keeps the reported amount for the console.
    pub(crate) fn write(&mut self, currencies: &Currencies, writer: &mut Writer) {
        self.write_as(&REQUEST, currencies, writer);
    }

    fn write_as(&mut self, names: &TotalsNames, currencies: &Currencies, writer: &mut Writer) {
        writer.push(names.cost, Written::money(self.usd));
        writer.push(names.cost_estimated, Written::money(self.estimated_usd));
        self.reported = currencies
            .report(self.usd)
            .map(|(code, amount)| (code.clone(), amount));
        if let Some((code, amount)) = &self.reported {
            writer.push(names.cost_amount, Written::money(*amount));
            writer.push(names.cost_currency, Written::Str(code.clone()));
        }
        writer.push(names.input, Written::I64(saturating_i64(self.input)));
        writer.push(names.output, Written::I64(saturating_i64(self.output)));
        writer.push(names.calls, Written::I64(saturating_i64(self.calls)));
        writer.push(names.unpriced, Written::I64(saturating_i64(self.unpriced)));
    }
}

/// The attributes one kind of totals is written under.
struct TotalsNames {
    cost: &'static str,
    cost_estimated: &'static str,
    cost_amount: &'static str,
    cost_currency: &'static str,
    input: &'static str,
    output: &'static str,
    calls: &'static str,
    unpriced: &'static str,
}

const REQUEST: TotalsNames = TotalsNames {
    cost: attr::AI_REQUEST_COST,
    cost_estimated: attr::AI_REQUEST_COST_ESTIMATED,
    cost_amount: attr::AI_REQUEST_COST_AMOUNT,
    cost_currency: attr::AI_REQUEST_COST_CURRENCY,
    input: attr::AI_REQUEST_INPUT_TOKENS,
    output: attr::AI_REQUEST_OUTPUT_TOKENS,
    calls: attr::AI_REQUEST_AI_CALLS,
    unpriced: attr::AI_REQUEST_UNPRICED_CALLS,
};

const AGENT: TotalsNames = TotalsNames {
    cost: attr::AI_AGENT_COST,
    cost_estimated: attr::AI_AGENT_COST_ESTIMATED,
    cost_amount: attr::AI_AGENT_COST_AMOUNT,
    cost_currency: attr::AI_AGENT_COST_CURRENCY,
    input: attr::AI_AGENT_INPUT_TOKENS,
    output: attr::AI_AGENT_OUTPUT_TOKENS,
    calls: attr::AI_AGENT_AI_CALLS,
    unpriced: attr::AI_AGENT_UNPRICED_CALLS,
};

/// The totals of the model calls under an agent's span, in its extensions.
#[derive(Debug, Default)]
pub(crate) struct AgentTotals(pub(crate) RequestTotals, Providers);

/// The providers of the model calls under an agent.
#[derive(Debug, Default)]
enum Providers {
    #[default]
    None,
    One(Arc<str>),
    Several,
}

impl AgentTotals {
    fn add(&mut self, fields: &CallFields, priced: &Priced) {
        self.0.add(&Addition::of(fields, priced));
        if let Some(provider) = &fields.provider {
            self.1 = match std::mem::take(&mut self.1) {
                Providers::None => Providers::One(provider.clone()),
                Providers::One(one) if one == *provider => Providers::One(one),
                _ => Providers::Several,
            };
        }
    }

    /// The provider every model call under the agent used, when they all used one: the
    /// agent's `gen_ai.provider.name` (required by the conventions) when it named none.
    pub(crate) fn single_provider(&self) -> Option<&Arc<str>> {
        match &self.1 {
            Providers::One(provider) => Some(provider),
            Providers::None | Providers::Several => None,
        }
    }

    /// Writes them as an agent's.
    pub(crate) fn write(&mut self, currencies: &Currencies, writer: &mut Writer) {
        self.0.write_as(&AGENT, currencies, writer);
    }
}

/// Whether a span is an agent's: its totals are kept.
pub(crate) fn is_agent(fields: &CallFields) -> bool {
    fields.operation.as_deref() == Some("invoke_agent")
}

/// Adds a closing call to the totals of its request's local root; the root's first totals
/// are given to `hold` to put in its extensions, under the same lock.
pub(crate) fn add_to_request<'a, R: LookupSpan<'a>>(
    root: &SpanRef<'a, R>,
    addition: &Addition,
    hold: impl FnOnce(&mut ExtensionsMut<'_>, RequestTotals),
) {
    add_to_totals(&mut root.extensions_mut(), addition, hold);
}

/// Adds a closing call to the request's totals in `extensions`, its root's; the first totals
/// are given to `hold` to put there.
pub(crate) fn add_to_totals(
    extensions: &mut ExtensionsMut<'_>,
    addition: &Addition,
    hold: impl FnOnce(&mut ExtensionsMut<'_>, RequestTotals),
) {
    match extensions.get_mut::<RequestTotals>() {
        Some(totals) => totals.add(addition),
        None => {
            let mut totals = RequestTotals::default();
            totals.add(addition);
            hold(extensions, totals);
        }
    }
}

/// Adds a closing model call to the totals of every agent still open above it.
pub(crate) fn add_to_agents<'a, R: LookupSpan<'a>>(
    call: &SpanRef<'a, R>,
    fields: &CallFields,
    priced: &Priced,
) {
    if !is_model_call(fields) && !matches!(priced, Priced::Cost { .. }) {
        return;
    }
    for ancestor in call.scope().skip(1) {
        let mut extensions = ancestor.extensions_mut();
        let is_open_agent = extensions
            .get_mut::<AiSpanData>()
            .is_some_and(|data| data.settled.is_none() && is_agent(&data.fields));
        if !is_open_agent {
            continue;
        }
        match extensions.get_mut::<AgentTotals>() {
            Some(totals) => totals.add(fields, priced),
            None => {
                let mut totals = AgentTotals::default();
                totals.add(fields, priced);
                extensions.insert(totals);
            }
        }
    }
}
