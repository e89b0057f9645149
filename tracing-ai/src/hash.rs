//! A fast hasher for the layer's own lookup tables, whose keys are not chosen by callers:
//! callsite addresses, and the provider and model names of the price cache (bounded to a few
//! thousand entries). The standard SipHash, made to resist keys an attacker chooses, costs
//! several times more per lookup, and these lookups are on every span.

use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-rotate mixing, a word at a time (the scheme of rustc's `FxHasher`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

/// Builds [`FastHasher`]s, for `HashMap::with_hasher` / `HashMap::default()`.
pub(crate) type FastHash = BuildHasherDefault<FastHasher>;

const SEED: u64 = 0x517c_c1b7_2722_0a95;

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.write_u64(u64::from(byte));
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::FastHash;

    #[test]
    fn a_map_with_it_finds_what_it_holds() {
        let mut map: HashMap<Box<str>, usize, FastHash> = HashMap::default();
        let names = [
            "",
            "a",
            "gpt-4o-mini",
            "claude-sonnet-4-5-20250929",
            "gpt-4o-mini ",
        ];
        for (index, name) in names.iter().enumerate() {
            map.insert((*name).into(), index);
        }
        for (index, name) in names.iter().enumerate() {
            assert_eq!(map.get(*name), Some(&index));
        }
        assert_eq!(map.get("gpt-4o"), None);
    }
}
