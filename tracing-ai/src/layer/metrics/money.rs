//! A counter of money that sums exactly: a finance team adds up the spans' costs and must find
//! the counter's total, not `0.0009892999999999998`.
//!
//! Each amount is rounded as spans write it (12 significant digits), kept as an integer of
//! 10^-22 USD and summed as one; at each collection a sum becomes the double nearest its
//! decimal value, which an exporter prints as that decimal.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::metrics::Meter;
use opentelemetry::KeyValue;

use crate::layer::write::money_digits;

/// The finest unit a rounded amount needs: 10^-22 USD.
const PLACES: usize = 22;

/// Sums of money by a key of labels, read by an observable counter.
pub(super) struct MoneyCounter<K> {
    sums: Arc<Mutex<HashMap<K, i128>>>,
}

impl<K> MoneyCounter<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// Registers counter `name` on `meter`; `labels` turns a key into the point's attributes.
    pub(super) fn new(
        meter: &Meter,
        name: &'static str,
        description: &'static str,
        labels: impl Fn(&K) -> Vec<KeyValue> + Send + Sync + 'static,
    ) -> Self {
        let sums = Arc::new(Mutex::new(HashMap::<K, i128>::new()));
        let read = Arc::clone(&sums);
        meter
            .f64_observable_counter(name)
            .with_unit("USD")
            .with_description(description)
            .with_callback(move |observer| {
                // A copy, so that calls closing meanwhile do not wait on the exporter.
                let sums: Vec<(K, i128)> = read
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .map(|(key, sum)| (key.clone(), *sum))
                    .collect();
                for (key, sum) in sums {
                    observer.observe(to_f64(sum), &labels(&key));
                }
            })
            .build();
        Self { sums }
    }

    /// Adds `usd` under `key`. Amounts no call costs (from 1e11 USD, NaN) are left out: the
    /// layer refuses them as costs before, and a sum must not be poisoned by one.
    pub(super) fn add(&self, key: K, usd: f64) {
        let Some(units) = to_units(usd) else {
            return;
        };
        let mut sums = self.sums.lock().unwrap_or_else(PoisonError::into_inner);
        let sum = sums.entry(key).or_insert(0);
        *sum = sum.saturating_add(units);
    }
}

/// `usd`, rounded as spans write it, in units of 10^-22 USD.
fn to_units(usd: f64) -> Option<i128> {
    if usd.abs() < 1e-10 {
        // Below 10^12 units: whole units are exact enough. Also 0.
        return Some((usd * 1e22).round() as i128);
    }
    let (mantissa, places) = money_digits(usd)?;
    Some(i128::from(mantissa) * 10_i128.pow((PLACES - places) as u32))
}

/// The double nearest `units` * 10^-22: parsed from its decimal, which Rust rounds correctly.
fn to_f64(units: i128) -> f64 {
    let sign = if units < 0 { "-" } else { "" };
    let digits = units.unsigned_abs();
    let scale = 10_u128.pow(PLACES as u32);
    format!("{sign}{}.{:022}", digits / scale, digits % scale)
        .parse()
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_the_decimal_sums_of_the_rounded_amounts() {
        let amounts = [0.00013, 0.00029, 0.0003653];
        let float: f64 = amounts.iter().sum();
        assert_ne!(float, 0.0007853, "float addition drifts: {float}");
        let units: i128 = amounts
            .iter()
            .map(|usd| to_units(*usd).expect("money"))
            .sum();
        assert_eq!(to_f64(units), 0.0007853);
        assert_eq!(to_f64(units).to_string(), "0.0007853");
    }

    #[test]
    fn tiny_and_large_amounts_keep_their_digits() {
        for usd in [1.23e-10, 4.5e-7, 0.123456789012, 12_345.678_901_2, 9.9e10] {
            assert_eq!(to_f64(to_units(usd).expect("money")), usd, "{usd}");
        }
        assert_eq!(to_units(f64::NAN), None);
        assert_eq!(to_units(1e11), None);
        assert_eq!(to_f64(to_units(1.5e-12).expect("money")), 1.5e-12);
        assert_eq!(to_units(0.0), Some(0));
    }
}
