//! Writing what the layer found (cost, attribution, a request's totals) onto a closing span.
//!
//! Straight onto the OpenTelemetry span when the layer is composed with tracing-opentelemetry
//! (no other layer needs to read them, and it is the cheap path), or, for the fields the span
//! declares, through the dispatcher as `tracing` fields that every layer sees (`fmt`, say):
//! what a standalone [`AiLayer`](super::AiLayer) does, and what
//! [`with_tracing_fields`](super::AiLayerBuilder::with_tracing_fields) turns on.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::KeyValue;
use tracing::field::{Field, Value};
use tracing::span::Id;
use tracing::{Dispatch, Metadata};

use crate::money::round_money;

/// Where a layer writes what it settles on a closing span: one path per composition, fixed
/// when the layer is built (alone) or composed (with tracing-opentelemetry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// Straight onto the OpenTelemetry span, nothing through the dispatcher: a layer composed
    /// with tracing-opentelemetry, unless fields were asked for. An `#[ai_span]` span then
    /// declares no field for what the layer writes.
    OpenTelemetry,
    /// The fields a span declares, as `tracing` fields through the dispatcher, so that every
    /// layer sees them (`fmt`, say); the rest onto the OpenTelemetry span, if there is one. A
    /// layer alone, or asked for with `with_tracing_fields(true)`.
    TracingFields,
}

impl Output {
    /// The output of a layer alone: what the builder asked for, else fields, the only way
    /// another layer can see what it writes.
    pub(crate) fn alone(asked: Option<bool>) -> Self {
        match asked {
            Some(false) => Output::OpenTelemetry,
            Some(true) | None => Output::TracingFields,
        }
    }

    /// The output of a layer composed with tracing-opentelemetry: what the builder asked for,
    /// else straight onto the OpenTelemetry span, the cheap path.
    pub(crate) fn composed(asked: Option<bool>) -> Self {
        match asked {
            Some(true) => Output::TracingFields,
            Some(false) | None => Output::OpenTelemetry,
        }
    }
}

thread_local! {
    /// Set while the layer records on a closing span, so that its own `on_record` skips it.
    static WRITING: Cell<bool> = const { Cell::new(false) };

    /// The attributes of the last span written on this thread, emptied: its capacity serves
    /// the next one, so that a write allocates no list.
    static ATTRIBUTES: RefCell<Vec<KeyValue>> = const { RefCell::new(Vec::new()) };
}

/// Whether the layer is writing on this thread now: its `on_record` has nothing to read.
pub(crate) fn is_writing() -> bool {
    WRITING.get()
}

/// Marks this thread as writing until dropped, even when a layer it records to panics:
/// otherwise the flag would stay set and the layer would read no field on this thread again.
struct WritingGuard;

impl WritingGuard {
    fn new() -> Self {
        WRITING.set(true);
        WritingGuard
    }
}

impl Drop for WritingGuard {
    fn drop(&mut self) {
        WRITING.set(false);
    }
}

/// A value the layer writes on a span.
pub(crate) enum Written {
    Bool(bool),
    F64(f64),
    I64(i64),
    Str(Arc<str>),
    Static(&'static str),
}

impl Written {
    /// An amount of money, rounded to 12 significant digits: 201 tokens at $0.15 a million
    /// is exported as 0.00003015, not as the float sum 0.000030149999999999998, and a total is
    /// the same number a finance team gets adding up the calls.
    pub(crate) fn money(amount: f64) -> Self {
        Written::F64(round_money(amount))
    }

    /// As an OpenTelemetry value, without copying its text.
    fn into_otel(self) -> opentelemetry::Value {
        match self {
            Written::Bool(v) => v.into(),
            Written::F64(v) => v.into(),
            Written::I64(v) => v.into(),
            Written::Str(v) => opentelemetry::StringValue::from(v).into(),
            Written::Static(v) => v.into(),
        }
    }
}

/// The name of an attribute the layer writes: one of ours, or an attribution key's.
pub(crate) enum Name<'a> {
    Static(&'static str),
    Shared(&'a Arc<str>),
}

impl Name<'_> {
    fn as_str(&self) -> &str {
        match self {
            Name::Static(name) => name,
            Name::Shared(name) => name,
        }
    }

    fn into_key(self) -> opentelemetry::Key {
        match self {
            Name::Static(name) => opentelemetry::Key::from_static_str(name),
            Name::Shared(name) => opentelemetry::Key::from(name.clone()),
        }
    }
}

/// Collects what to write on a closing span, then writes it in one go.
pub(crate) struct Writer {
    metadata: &'static Metadata<'static>,
    output: Output,
    declared: Vec<(Field, Written)>,
    undeclared: Vec<KeyValue>,
    /// An event to add to the OpenTelemetry span, with its attributes.
    event: Option<(&'static str, Vec<KeyValue>)>,
}

impl Writer {
    pub(crate) fn new(metadata: &'static Metadata<'static>, output: Output) -> Self {
        Self {
            metadata,
            output,
            declared: Vec::new(),
            // Taken, not borrowed: a writer made while this one lives gets a new list.
            undeclared: ATTRIBUTES.with_borrow_mut(std::mem::take),
            event: None,
        }
    }

    /// Adds attributes made elsewhere, written straight onto the OpenTelemetry span.
    pub(crate) fn extend(&mut self, attributes: Vec<KeyValue>) {
        self.undeclared.extend(attributes);
    }

    /// Adds event `name` to the OpenTelemetry span when the writer finishes.
    pub(crate) fn event(&mut self, name: &'static str, attributes: Vec<KeyValue>) {
        self.event = Some((name, attributes));
    }

    #[inline]
    pub(crate) fn push(&mut self, name: &'static str, value: Written) {
        self.push_named(Name::Static(name), value);
    }

    #[inline(always)]
    pub(crate) fn push_named(&mut self, name: Name<'_>, value: Written) {
        let declared = match self.output {
            Output::TracingFields => self.metadata.fields().field(name.as_str()),
            Output::OpenTelemetry => None,
        };
        match declared {
            Some(field) => self.declared.push((field, value)),
            None => self
                .undeclared
                .push(KeyValue::new(name.into_key(), value.into_otel())),
        }
    }

    pub(crate) fn finish(
        self,
        id: &Id,
        dispatch: &Dispatch,
        otel: Option<&opentelemetry::Context>,
    ) {
        if !self.declared.is_empty() {
            let texts: Vec<&str> = self
                .declared
                .iter()
                .map(|(_, value)| match value {
                    Written::Str(text) => &**text,
                    Written::Static(text) => text,
                    Written::Bool(_) | Written::F64(_) | Written::I64(_) => "",
                })
                .collect();
            let values: Vec<(&Field, &dyn Value)> = self
                .declared
                .iter()
                .zip(&texts)
                .map(|((field, value), text)| {
                    let value: &dyn Value = match value {
                        Written::Bool(flag) => flag,
                        Written::F64(number) => number,
                        Written::I64(number) => number,
                        Written::Str(_) | Written::Static(_) => text,
                    };
                    (field, value)
                })
                .collect();
            let _writing = WritingGuard::new();
            crate::value_set::record_by_id(self.metadata, id, dispatch, &values);
        }
        let mut undeclared = self.undeclared;
        if let (Some(cx), false) = (otel, undeclared.is_empty()) {
            cx.span().set_attributes(undeclared.drain(..));
        }
        if let (Some(cx), Some((name, attributes))) = (otel, self.event) {
            cx.span().add_event(name, attributes);
        }
        undeclared.clear();
        // Put back through a borrow rather than `set` (which initialises the key again and
        // drops what it replaces); the larger of the two lists stays for the next span.
        ATTRIBUTES.with_borrow_mut(|kept| {
            if kept.capacity() < undeclared.capacity() {
                *kept = undeclared;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::money::round_money;

    #[test]
    fn money_loses_only_float_noise() {
        assert_eq!(round_money(201.0 * 0.15e-6), 3.015e-5);
        assert_eq!(format!("{}", round_money(201.0 * 0.15e-6)), "0.00003015");
        assert_eq!(round_money(0.1 + 0.2), 0.3);
        assert_eq!(round_money(0.0125), 0.0125);
        assert_eq!(round_money(-2.5e-9), -2.5e-9);
        assert_eq!(round_money(123_456_789.123_456_78), 123_456_789.123);
        assert_eq!(round_money(0.0), 0.0);
        assert!(round_money(f64::NAN).is_nan());
        assert_eq!(round_money(f64::MAX), f64::MAX);
        assert_eq!(round_money(9.999_999_999_96e10), 9.999_999_999_96e10);
        assert_eq!(round_money(0.999_999_999_999_7), 1.0);
        assert_eq!(round_money(1.000_000_000_000_2e-10), 1e-10);
        // Every magnitude of cost, against the decimal the arithmetic meant.
        for exponent in -10..=10 {
            let price = 1.5 * 10_f64.powi(exponent);
            let meant: f64 = format!("{:.11e}", 3.0 * price).parse().expect("a number");
            assert_eq!(round_money(price + price + price), meant, "{exponent}");
        }
        assert_eq!(round_money(f64::MIN_POSITIVE), f64::MIN_POSITIVE);
    }
}
