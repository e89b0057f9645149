//! An id as the layer keeps it, whatever its source: bounded and clean, by one rule.

use std::cell::RefCell;
use std::hash::Hasher as _;
use std::sync::Arc;

use crate::hash::FastHasher;

/// The longest attribution value kept, in bytes: ids are short, and a value taken from a
/// request (a header) must not grow every AI span, metric series and export batch with it.
pub(crate) const MAX_VALUE_BYTES: usize = 256;

/// What marks a value cut at [`MAX_VALUE_BYTES`]; the hash of the whole value follows it.
const TRUNCATED: &str = "…#";

/// Hex digits of the whole value's SHA-256 kept after a cut: 64 bits, so that two different
/// long ids sharing their first bytes stay two labels, two budget accounts and two ids.
const HASH_HEX_DIGITS: usize = 16;

/// Whether `c` would rewrite what a log line, a terminal or a UI shows: a control character
/// (a newline forging a log line, an escape sequence) or an invisible or bidirectional
/// override (U+202E shows `emca` for `acme`).
fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// An id as every source gives it to the layer (a span's field, a `with_ids` call, trusted
/// baggage), made fit to be a label, an account and an attribute. The one rule for all of
/// them:
/// - every control or bidirectional-override character is escaped as `\u{..}`, so that what a
///   backend shows is what was recorded, and two ids that differ by one stay two;
/// - a value longer than [`MAX_VALUE_BYTES`] (escapes included) keeps its first bytes, on a
///   character boundary, then `…#` and 16 hex digits of the SHA-256 of the whole value: the
///   same id gives the same text in every replica, and two ids that share their first 256
///   bytes stay distinct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CleanId {
    pub(crate) value: Arc<str>,
    /// Whether the rule changed the value (escaped or cut it).
    pub(crate) changed: bool,
}

impl CleanId {
    pub(crate) fn new(value: &str) -> Self {
        // Most ids are printable ASCII: told by a scan of bytes, without decoding characters.
        let ascii = value.bytes().all(|byte| (0x20..0x7f).contains(&byte));
        let escaped = !ascii && value.contains(is_unprintable);
        if !escaped && value.len() <= MAX_VALUE_BYTES {
            return Self {
                value: value.into(),
                changed: false,
            };
        }
        let text: std::borrow::Cow<'_, str> = if escaped {
            let mut text = String::with_capacity(value.len() + 8);
            for c in value.chars() {
                if is_unprintable(c) {
                    use std::fmt::Write as _;
                    let _ = write!(text, "\\u{{{:x}}}", u32::from(c));
                } else {
                    text.push(c);
                }
            }
            text.into()
        } else {
            value.into()
        };
        let value = if text.len() <= MAX_VALUE_BYTES {
            text.into()
        } else {
            use sha2::Digest as _;
            let digest = sha2::Sha256::digest(value.as_bytes());
            let mut end = MAX_VALUE_BYTES - TRUNCATED.len() - HASH_HEX_DIGITS;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let mut cut = String::with_capacity(MAX_VALUE_BYTES);
            cut.push_str(&text[..end]);
            cut.push_str(TRUNCATED);
            for byte in &digest[..HASH_HEX_DIGITS / 2] {
                use std::fmt::Write as _;
                let _ = write!(cut, "{byte:02x}");
            }
            cut.into()
        };
        Self {
            value,
            changed: true,
        }
    }
}

/// How many ids each thread keeps to share, by a hash of their text.
const SHARED_IDS: usize = 16;

thread_local! {
    /// The ids last kept on this thread, each in the slot of its text's hash. A service's
    /// tenants and features come back request after request: one seen again is shared, where
    /// a copy cost an allocation when the request began and its free when it ended. Per thread,
    /// so that keeping one writes to no memory another core reads; ids that never come back (a
    /// request's) only replace one another.
    static SHARED: RefCell<[Option<Arc<str>>; SHARED_IDS]> =
        const { RefCell::new([const { None }; SHARED_IDS]) };
}

/// `value` as the layer keeps it ([`CleanId`]), shared with the last equal id this thread
/// kept.
pub(crate) fn bounded(value: &str) -> Arc<str> {
    let mut hasher = FastHasher::default();
    hasher.write(value.as_bytes());
    let slot = (hasher.finish() >> 32) as usize % SHARED_IDS;
    let same = SHARED.try_with(|shared| {
        let shared = shared.try_borrow().ok()?;
        shared[slot].as_ref().filter(|id| &***id == value).cloned()
    });
    if let Ok(Some(same)) = same {
        return same;
    }
    let id = CleanId::new(value);
    // An id the rule rewrote is never looked up as it was kept (the text that comes again is
    // the one before the rewriting): it would only take the slot of one that is.
    if !id.changed {
        let _ = SHARED.try_with(|shared| {
            if let Ok(mut shared) = shared.try_borrow_mut() {
                shared[slot] = Some(id.value.clone());
            }
        });
    }
    id.value
}

/// A value read from baggage, or `None` when it is not one a service would have sent: empty,
/// or one the id rule would change (longer than [`MAX_VALUE_BYTES`], or holding a control or
/// bidirectional-override character). The same rule as every other source, stricter in its
/// outcome: baggage crosses processes, so its values are the caller's whatever was trusted,
/// and a caller that sends an id which needs rewriting is forging one, not naming a tenant.
pub(crate) fn from_baggage(value: &str) -> Option<Arc<str>> {
    let id = CleanId::new(value);
    (!value.is_empty() && !id.changed).then_some(id.value)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{bounded, from_baggage, MAX_VALUE_BYTES};

    #[test]
    fn an_id_seen_again_on_a_thread_is_shared_and_a_rewritten_one_is_still_rewritten() {
        let first = bounded("acme");
        let again = bounded("acme");
        assert!(Arc::ptr_eq(&first, &again), "shared, not copied");
        assert_eq!(&*again, "acme");
        // Many other ids in between: whatever slot they take, each comes back as given.
        for n in 0..1_000 {
            let id = format!("request-{n}");
            assert_eq!(&*bounded(&id), id);
        }
        assert_eq!(&*bounded("acme"), "acme");
        // An id the rule rewrites is rewritten every time, and the text it is rewritten to is
        // kept as it is: a hit only ever returns the text looked up.
        assert_eq!(&*bounded("acme\tglobex"), r"acme\u{9}globex");
        assert_eq!(&*bounded(r"acme\u{9}globex"), r"acme\u{9}globex");
        assert_eq!(&*bounded("acme\tglobex"), r"acme\u{9}globex");
    }

    #[test]
    fn baggage_values_that_no_service_would_send_are_dropped_not_cut() {
        assert_eq!(from_baggage("acme").as_deref(), Some("acme"));
        assert_eq!(
            from_baggage("Société Générale").as_deref(),
            Some("Société Générale")
        );
        assert_eq!(from_baggage(""), None);
        assert_eq!(from_baggage(&"a".repeat(MAX_VALUE_BYTES + 1)), None);
        assert!(from_baggage(&"a".repeat(MAX_VALUE_BYTES)).is_some());
        for hostile in [
            "acme\nglobex",
            "acme\u{0}",
            "acme\r",
            "\u{202E}emca",
            "ac\u{200B}me",
            "\u{1b}[31macme",
        ] {
            assert_eq!(from_baggage(hostile), None, "{hostile:?}");
        }
    }

    #[test]
    fn a_long_value_is_cut_on_a_character_boundary_and_keeps_a_hash_of_the_whole() {
        assert_eq!(&*bounded("acme"), "acme");
        let exact = "a".repeat(MAX_VALUE_BYTES);
        assert_eq!(&*bounded(&exact), exact);
        let long = "é".repeat(200);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_VALUE_BYTES, "{}", cut.len());
        let (kept, hash) = cut.split_once("…#").expect("the cut is marked");
        assert!(long.starts_with(kept));
        assert_eq!(hash.len(), 16);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{hash}");
        // The same id gives the same text (in every replica)...
        assert_eq!(bounded(&long), cut);
        // ...and two ids sharing their first 50 KB stay two.
        let prefix = "t".repeat(50_000);
        let (a, b) = (
            bounded(&format!("{prefix}a")),
            bounded(&format!("{prefix}b")),
        );
        assert_ne!(a, b);
        assert_eq!(a.len(), MAX_VALUE_BYTES);
        assert_eq!(b.len(), MAX_VALUE_BYTES);
    }

    #[test]
    fn control_and_bidi_characters_are_escaped_so_ids_stay_distinct() {
        assert_eq!(&*bounded("acme\tglobex"), "acme\\u{9}globex");
        assert_eq!(&*bounded("\u{202E}emca"), "\\u{202e}emca");
        assert_eq!(&*bounded("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_ne!(bounded("a\tb"), bounded("a\nb"));
        // Printable non-ASCII is an id like any other.
        assert_eq!(&*bounded("Société Générale"), "Société Générale");
        // Escaping counts towards the bound.
        let cut = bounded(&"\u{0}".repeat(MAX_VALUE_BYTES));
        assert_eq!(cut.len(), MAX_VALUE_BYTES);
        assert!(cut.starts_with("\\u{0}\\u{0}"), "{cut}");
    }
}
