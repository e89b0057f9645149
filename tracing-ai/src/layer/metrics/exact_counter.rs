//! A counter of money that sums exactly: a finance team adds up the spans' costs and must find
//! the counter's total, not `0.0009892999999999998`.
//!
//! Each amount is rounded as spans write it (12 significant digits), kept as an integer of
//! 10^-22 USD and summed as one; at each collection a sum becomes the double nearest its
//! decimal value, which an exporter prints as that decimal.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::metrics::{AsyncInstrument, Meter};
use opentelemetry::KeyValue;

use crate::money::{to_f64, to_units};

/// Sums of money in units of 10^-22 USD, by a key of labels.
type Sums<K> = Arc<Mutex<HashMap<K, i128>>>;

/// Sums of money by a key of labels, read by an observable counter.
pub(super) struct MoneyCounter<K> {
    sums: Sums<K>,
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
        let (sums, callback) = Self::observed(labels);
        meter
            .f64_observable_counter(name)
            .with_unit("USD")
            .with_description(description)
            .with_callback(callback)
            .build();
        Self { sums }
    }

    /// As [`new`](Self::new), for sums that may go down (differences of money).
    pub(super) fn up_down(
        meter: &Meter,
        name: &'static str,
        description: &'static str,
        labels: impl Fn(&K) -> Vec<KeyValue> + Send + Sync + 'static,
    ) -> Self {
        let (sums, callback) = Self::observed(labels);
        meter
            .f64_observable_up_down_counter(name)
            .with_unit("USD")
            .with_description(description)
            .with_callback(callback)
            .build();
        Self { sums }
    }

    /// The sums, and the callback that observes them.
    fn observed(
        labels: impl Fn(&K) -> Vec<KeyValue> + Send + Sync + 'static,
    ) -> (
        Sums<K>,
        impl Fn(&dyn AsyncInstrument<f64>) + Send + Sync + 'static,
    ) {
        let sums = Arc::new(Mutex::new(HashMap::<K, i128>::new()));
        let read = Arc::clone(&sums);
        let callback = move |observer: &dyn AsyncInstrument<f64>| {
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
        };
        (sums, callback)
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
