//! A request's totals: what its model calls added up to, kept on its local root span and
//! written there when it closes, in `ai.request.*` attributes distinct from the per-call ones
//! so that a backend summing per-call costs never counts twice.

use std::sync::Arc;

use super::fields::CallFields;
use super::write::{Writer, Written};
use crate::attr;
use crate::pricing::{Currencies, Priced};
use crate::record::saturating_i64;

/// What a request's model calls added up to, in its local root's extensions. It stays there
/// after the root closes, for the layers over the AI layer (the console) to show.
#[derive(Debug, Default)]
pub(crate) struct RequestTotals {
    pub(crate) usd: f64,
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

impl RequestTotals {
    /// Adds one AI span.
    pub(crate) fn add(&mut self, fields: &CallFields, priced: &Priced) {
        if !is_model_call(fields) {
            return;
        }
        self.calls += 1;
        if let Some(tokens) = fields.tokens() {
            self.input = self.input.saturating_add(tokens.input);
            self.output = self.output.saturating_add(tokens.output);
        }
        match priced {
            Priced::Cost { usd, .. } => self.usd += usd,
            Priced::Unpriced { .. } | Priced::NoUsage { .. } => self.unpriced += 1,
            Priced::Nothing => self.usd += fields.recorded_cost.unwrap_or(0.0),
        }
    }

    /// Writes the totals, and keeps the reported amount for the console.
    pub(crate) fn write(&mut self, currencies: &Currencies, writer: &mut Writer) {
        writer.push(attr::AI_REQUEST_COST, Written::F64(self.usd));
        self.reported = currencies
            .report(self.usd)
            .map(|(code, amount)| (code.clone(), amount));
        if let Some((code, amount)) = &self.reported {
            writer.push(attr::AI_REQUEST_COST_AMOUNT, Written::F64(*amount));
            writer.push(attr::AI_REQUEST_COST_CURRENCY, Written::Str(code.clone()));
        }
        writer.push(
            attr::AI_REQUEST_INPUT_TOKENS,
            Written::I64(saturating_i64(self.input)),
        );
        writer.push(
            attr::AI_REQUEST_OUTPUT_TOKENS,
            Written::I64(saturating_i64(self.output)),
        );
        writer.push(
            attr::AI_REQUEST_AI_CALLS,
            Written::I64(saturating_i64(self.calls)),
        );
        writer.push(
            attr::AI_REQUEST_UNPRICED_CALLS,
            Written::I64(saturating_i64(self.unpriced)),
        );
    }
}
