//! Captured content as JSON text of at most a given size, still valid JSON when cut.
//!
//! An attribute value longer than the export's limit is cut by the export queue (and by most
//! backends) at a byte count, which leaves broken JSON. So content is cut here first, where
//! its structure is known: the longest texts are shortened (each ends with
//! [`TRUNCATED`]), then, if that is not enough, the oldest entries of the list are left out
//! and a first entry says how many.

use serde_json::Value;

/// What ends a text that was shortened.
pub(crate) const TRUNCATED: &str = "…[truncated]";

/// The shortest a text is cut to before entries are dropped instead.
const MIN_TEXT: usize = 32;

/// At most this many rounds of shortening: each round shortens the longest text.
const MAX_ROUNDS: usize = 64;

/// `value` as JSON text of at most `max` bytes, and whether anything was cut.
pub(crate) fn to_bounded_json(mut value: Value, max: usize) -> (String, bool) {
    let mut json = value.to_string();
    if json.len() <= max {
        return (json, false);
    }
    for _ in 0..MAX_ROUNDS {
        let excess = json.len() - max;
        let Some(longest) = longest_text(&mut value) else {
            break;
        };
        if longest.len() <= MIN_TEXT {
            break;
        }
        let keep = longest
            .len()
            .saturating_sub(excess + TRUNCATED.len())
            .max(MIN_TEXT);
        cut(longest, keep);
        json = value.to_string();
        if json.len() <= max {
            return (json, true);
        }
    }
    // Still too long: leave out the oldest entries of the list, saying how many.
    if let Value::Array(entries) = &mut value {
        let mut dropped = 0;
        while entries.len() > 1 {
            entries.remove(0);
            dropped += 1;
            let marked = with_marker(entries, dropped);
            if marked.len() <= max {
                return (marked, true);
            }
        }
    }
    // Not even one entry fits: a list holding only the marker is still valid JSON.
    let marker = Value::Array(vec![marker_entry(usize::MAX)]).to_string();
    if marker.len() <= max {
        return (marker, true);
    }
    ("[]".to_owned(), true)
}

fn with_marker(entries: &[Value], dropped: usize) -> String {
    let mut marked = Vec::with_capacity(entries.len() + 1);
    marked.push(marker_entry(dropped));
    marked.extend_from_slice(entries);
    Value::Array(marked).to_string()
}

/// The entry that stands for those left out: a message of one text part (a message list's
/// shape; a list of parts reads it as a generic part).
fn marker_entry(dropped: usize) -> Value {
    let content = if dropped == usize::MAX {
        "[tracing-ai: the content was left out: too large to export]".to_owned()
    } else {
        format!("[tracing-ai: {dropped} earlier entries were left out: too large to export]")
    };
    serde_json::json!({
        "role": "system",
        "type": "text",
        "parts": [{ "type": "text", "content": content }],
    })
}

/// The longest string in `value` (a leaf, not a key).
fn longest_text(value: &mut Value) -> Option<&mut String> {
    match value {
        Value::String(text) => Some(text),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(longest_text)
            .max_by_key(|t| t.len()),
        Value::Object(map) => map
            .values_mut()
            .filter_map(longest_text)
            .max_by_key(|t| t.len()),
        _ => None,
    }
}

/// Cuts `text` to at most `keep` bytes on a character boundary and marks it.
fn cut(text: &mut String, keep: usize) {
    let mut end = keep.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(TRUNCATED);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn messages(texts: &[&str]) -> Value {
        Value::Array(
            texts
                .iter()
                .map(|text| json!({"role": "user", "parts": [{"type": "text", "content": text}]}))
                .collect(),
        )
    }

    #[test]
    fn content_within_the_cap_is_unchanged() {
        let value = messages(&["hello", "world"]);
        let (json, cut) = to_bounded_json(value.clone(), 1_000);
        assert!(!cut);
        assert_eq!(
            serde_json::from_str::<Value>(&json).expect("valid JSON"),
            value
        );
    }

    #[test]
    fn the_longest_text_is_shortened_and_says_so_the_json_stays_valid() {
        let long = "é".repeat(5_000);
        for max in [300, 1_000, 4_096, 9_000] {
            let (json, cut) = to_bounded_json(messages(&["short question", &long]), max);
            assert!(cut, "{max}");
            assert!(json.len() <= max, "{} > {max}", json.len());
            let parsed: Value = serde_json::from_str(&json).expect("valid JSON");
            assert_eq!(parsed[0]["parts"][0]["content"], "short question");
            let shortened = parsed[1]["parts"][0]["content"].as_str().expect("text");
            assert!(shortened.ends_with(TRUNCATED), "{max}");
            assert!(shortened
                .trim_end_matches(TRUNCATED)
                .chars()
                .all(|c| c == 'é'));
        }
    }

    #[test]
    fn too_many_entries_the_oldest_are_left_out_with_a_marker() {
        let texts: Vec<String> = (0..200)
            .map(|i| format!("message number {i:03} {}", "x".repeat(40)))
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (json, cut) = to_bounded_json(messages(&texts), 2_000);
        assert!(cut);
        assert!(json.len() <= 2_000);
        let parsed: Vec<Value> = serde_json::from_str(&json).expect("valid JSON");
        let marker = parsed[0]["parts"][0]["content"].as_str().expect("marker");
        assert!(marker.contains("earlier entries were left out"), "{marker}");
        // The newest message is kept.
        let last = parsed.last().expect("an entry")["parts"][0]["content"]
            .as_str()
            .expect("text");
        assert!(last.starts_with("message number 199"), "{last}");
    }

    #[test]
    fn a_cap_too_small_for_anything_still_gives_valid_json() {
        for max in [0, 2, 10, 80] {
            let (json, cut) = to_bounded_json(messages(&[&"y".repeat(500)]), max);
            assert!(cut);
            serde_json::from_str::<Value>(&json).expect("valid JSON");
            assert!(json.len() <= max.max(2), "{max}: {json}");
        }
    }

    #[test]
    fn text_that_is_not_json_becomes_a_json_string() {
        let (json, cut) = to_bounded_json(Value::String("plain \"quoted\" text".into()), 100);
        assert!(!cut);
        assert_eq!(json, r#""plain \"quoted\" text""#);
        let (json, cut) = to_bounded_json(Value::String("z".repeat(1_000)), 100);
        assert!(cut);
        assert!(json.len() <= 100);
        let text: String = serde_json::from_str(&json).expect("a JSON string");
        assert!(text.ends_with(TRUNCATED));
    }
}
