//! Recording several values on a span in one call into the subscriber, by field or by name:
//! what the public `record_*` functions, the `#[ai_span]` runtime and the layer's writer share.
//! It imports nothing from them.

use tracing::field::{Field, Value};
use tracing::span::{Id, Record};
use tracing::{Dispatch, Metadata, Span};

/// The longest attribute value exported by default, in bytes: what the export queue cuts a
/// value to, and so the default cap of captured content, which must not be cut anywhere.
pub(crate) const DEFAULT_VALUE_BYTES: usize = 8 << 10;

/// Pairs `values` with `fields` in the form `FieldSet::value_set` takes; a value whose field
/// the span lacks is paired with any field and no value, which visitors skip.
pub(crate) fn with_fields<const N: usize>(
    metadata: &'static Metadata<'static>,
    fields: &[Option<Field>; N],
    values: [Option<&dyn Value>; N],
    record: impl FnOnce(&[(&Field, Option<&dyn Value>); N]),
) {
    let Some(placeholder) = metadata.fields().iter().next() else {
        return;
    };
    let entries: [(&Field, Option<&dyn Value>); N] =
        std::array::from_fn(|index| match &fields[index] {
            Some(field) => (field, values[index]),
            None => (&placeholder, None),
        });
    record(&entries);
}

pub(crate) fn opt<T: Value>(value: &Option<T>) -> Option<&dyn Value> {
    value.as_ref().map(|value| value as &dyn Value)
}

/// Token counts are exported as `i64`: tracing-opentelemetry exports a `u64` that does not fit
/// an `i64` as a string, which backends cannot sum.
pub(crate) fn saturating_i64(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Records several values on `span` with a single call into the subscriber. Names the span
/// does not declare, and entries without a value, are left out.
pub(crate) fn record_span<const N: usize>(span: &Span, entries: [(&str, Option<&dyn Value>); N]) {
    if let Some(metadata) = span.metadata() {
        let fieldset = metadata.fields();
        with_value_set(metadata, entries, |values| {
            span.record_all(&fieldset.value_set(values));
        });
    }
}

/// Records `values` on the span `id` of `metadata`'s callsite, through `dispatch`, so that
/// every layer sees them; used where there is no `Span` handle, as in a layer's callbacks.
pub(crate) fn record_by_id(
    metadata: &'static Metadata<'static>,
    id: &Id,
    dispatch: &Dispatch,
    values: &[(&Field, &dyn Value)],
) {
    const CHUNK: usize = 16;
    let fieldset = metadata.fields();
    let Some(placeholder) = fieldset.iter().next() else {
        return;
    };
    // A value set is a fixed-size array: fill one of `CHUNK` entries at a time, padding with
    // entries without a value, which visitors skip.
    for chunk in values.chunks(CHUNK) {
        let entries: [(&Field, Option<&dyn Value>); CHUNK] =
            std::array::from_fn(|index| match chunk.get(index) {
                Some((field, value)) => (*field, Some(*value)),
                None => (&placeholder, None),
            });
        dispatch.record(id, &Record::new(&fieldset.value_set(&entries)));
    }
}

/// Resolves `entries` against `metadata`'s fields and hands them to `record` in the form
/// `FieldSet::value_set` takes.
pub(crate) fn with_value_set<const N: usize>(
    metadata: &'static Metadata<'static>,
    entries: [(&str, Option<&dyn Value>); N],
    record: impl FnOnce(&[(&Field, Option<&dyn Value>); N]),
) {
    let fieldset = metadata.fields();
    let fields: [Option<Field>; N] = std::array::from_fn(|index| {
        let (name, value) = entries[index];
        value.and_then(|_| fieldset.field(name))
    });
    with_fields(metadata, &fields, entries.map(|(_, value)| value), record);
}
