//! A span made fit for the wire: its string values cut to the configured limit, and its size
//! estimated, so that the export queue can bound a batch in bytes as well as in spans.

use std::sync::Arc;

use opentelemetry_sdk::trace::SpanData;

/// `span` with its values cut to `max` bytes (the attribution ids to the AI layer's bound),
/// and its size on the wire.
pub(super) fn sized(
    mut span: SpanData,
    max: usize,
    attribution_keys: &[Arc<str>],
) -> (SpanData, usize) {
    bound_attribution(&mut span, attribution_keys);
    limit_values(&mut span, max);
    let size = estimated_size(&span);
    (span, size)
}

/// Makes the attribution ids of `span` what the AI layer makes them on its spans
/// ([`crate::clean_id::CleanId`]): a 100 KB tenant id recorded on the application's request
/// span is exported as the same 256 bytes as on the AI spans below it, not as 8 KiB, and a
/// tab in it is the same escape.
fn bound_attribution(span: &mut SpanData, keys: &[Arc<str>]) {
    if keys.is_empty() {
        return;
    }
    for attribute in &mut span.attributes {
        let opentelemetry::Value::String(text) = &attribute.value else {
            continue;
        };
        if !keys.iter().any(|key| **key == *attribute.key.as_str()) {
            continue;
        }
        let id = crate::clean_id::CleanId::new(text.as_str());
        if id.changed {
            attribute.value = opentelemetry::Value::String(id.value.to_string().into());
        }
    }
}

/// Cuts every string value of `span` (attributes, events, links, status) to `max` bytes: a
/// value a caller controls (a header recorded as an id) cannot make a span, or the batch it
/// travels in, too large to be received.
fn limit_values(span: &mut SpanData, max: usize) {
    fn cut(text: &mut std::borrow::Cow<'static, str>, max: usize) {
        if text.len() > max {
            let mut end = max;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            *text = text[..end].to_owned().into();
        }
    }
    fn limit(attributes: &mut [opentelemetry::KeyValue], max: usize) {
        for attribute in attributes {
            if let opentelemetry::Value::String(text) = &attribute.value {
                if text.as_str().len() > max {
                    let mut owned = std::borrow::Cow::Owned(text.as_str().to_owned());
                    cut(&mut owned, max);
                    attribute.value = opentelemetry::Value::String(owned.into_owned().into());
                }
            }
        }
    }
    limit(&mut span.attributes, max);
    for event in &mut span.events.events {
        limit(&mut event.attributes, max);
    }
    for link in &mut span.links.links {
        limit(&mut link.attributes, max);
    }
    if let opentelemetry::trace::Status::Error { description } = &mut span.status {
        cut(description, max);
    }
}

/// A span's size on the wire, roughly: its strings and a fixed overhead per field.
fn estimated_size(span: &SpanData) -> usize {
    fn value_size(value: &opentelemetry::Value) -> usize {
        match value {
            opentelemetry::Value::String(text) => text.as_str().len(),
            opentelemetry::Value::Array(array) => format!("{array:?}").len(),
            _ => 8,
        }
    }
    let attributes = |attributes: &[opentelemetry::KeyValue]| -> usize {
        attributes
            .iter()
            .map(|kv| kv.key.as_str().len() + value_size(&kv.value) + 8)
            .sum()
    };
    let events: usize = span
        .events
        .iter()
        .map(|event| event.name.len() + attributes(&event.attributes) + 24)
        .sum();
    let links: usize = span
        .links
        .iter()
        .map(|link| attributes(&link.attributes) + 40)
        .sum();
    let status = match &span.status {
        opentelemetry::trace::Status::Error { description } => description.len(),
        _ => 0,
    };
    100 + span.name.len() + attributes(&span.attributes) + events + links + status
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::testing::trace::new_test_export_span_data;

    use super::limit_values;

    #[test]
    fn string_values_are_cut_to_the_limit_on_a_character_boundary() {
        let mut span = new_test_export_span_data();
        span.attributes
            .push(KeyValue::new("tenant.id", "é".repeat(1_000)));
        span.attributes.push(KeyValue::new("short", "acme"));
        span.status = opentelemetry::trace::Status::error("x".repeat(5_000));
        limit_values(&mut span, 1_001);
        let value = span.attributes[0].value.as_str();
        assert_eq!(value.len(), 1_000);
        assert!(value.chars().all(|c| c == 'é'));
        assert_eq!(span.attributes[1].value.as_str(), "acme");
        assert!(
            matches!(&span.status, opentelemetry::trace::Status::Error { description } if description.len() == 1_001)
        );
    }
}
