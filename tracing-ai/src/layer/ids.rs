//! Who a request is for: ids recorded on a request's spans, or carried as baggage, inherited by
//! every AI span below them.

use std::sync::Arc;

use crate::attr;
use crate::clean_id::from_baggage;

/// The keys attribution is read from, each exported under one name.
#[derive(Clone, Debug)]
pub(crate) struct AttributionKeys {
    /// (field or baggage name, exported name). Several names may export as one.
    names: Vec<(Arc<str>, Arc<str>)>,
    /// The exported names, each once, in order: index `i` of a resolved attribution.
    exported: Vec<Arc<str>>,
    /// The baggage names read: a caller sends baggage, so none is trusted unless the service
    /// says so.
    trusted_baggage: Vec<Arc<str>>,
}

impl Default for AttributionKeys {
    fn default() -> Self {
        let mut keys = Self {
            names: Vec::new(),
            exported: Vec::new(),
            trusted_baggage: Vec::new(),
        };
        for key in [
            attr::TENANT_ID,
            attr::FEATURE_ID,
            attr::REQUEST_ID,
            attr::USER_ID,
            attr::SESSION_ID,
        ] {
            keys.add(key, key);
        }
        // The seed's spellings, exported under the dotted names.
        keys.add("tenant_id", attr::TENANT_ID);
        keys.add("feature_id", attr::FEATURE_ID);
        keys.add("request_id", attr::REQUEST_ID);
        keys
    }
}

impl AttributionKeys {
    /// Reads `name` from spans and baggage and exports it as `exported`.
    pub(crate) fn add(&mut self, name: &str, exported: &str) {
        let exported: Arc<str> = match self.exported.iter().find(|e| &***e == exported) {
            Some(existing) => existing.clone(),
            None => {
                let new: Arc<str> = exported.into();
                self.exported.push(new.clone());
                new
            }
        };
        self.names.retain(|(existing, _)| &**existing != name);
        self.names.push((name.into(), exported));
    }

    /// The index of the exported name that field `name` fills, if it is an attribution key.
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        let (_, exported) = self.names.iter().find(|(field, _)| &**field == name)?;
        self.exported.iter().position(|e| Arc::ptr_eq(e, exported))
    }

    /// The index of exported name `name`.
    pub(crate) fn index_of_exported(&self, name: &str) -> Option<usize> {
        self.exported.iter().position(|e| &**e == name)
    }

    pub(crate) fn exported(&self) -> &[Arc<str>] {
        &self.exported
    }

    /// Reads `name` from baggage too; an error unless `name` is an attribution key.
    pub(crate) fn trust_baggage(&mut self, name: &str) -> Result<(), String> {
        if self.index_of(name).is_none() {
            let known: Vec<&str> = self.names.iter().map(|(name, _)| &**name).collect();
            return Err(format!(
                "`{name}` cannot be read from baggage: it is not an attribution key (the keys \
                 are {}; add others with `with_attribution_key`)",
                known.join(", ")
            ));
        }
        if !self
            .trusted_baggage
            .iter()
            .any(|trusted| &**trusted == name)
        {
            self.trusted_baggage.push(name.into());
        }
        Ok(())
    }

    /// Whether any baggage is read: most services trust none, and skip the baggage at once.
    pub(crate) fn trusts_baggage(&self) -> bool {
        !self.trusted_baggage.is_empty()
    }

    /// The baggage names read, with the index of what each fills.
    pub(crate) fn trusted_baggage(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.names()
            .filter(|(name, _)| self.trusted_baggage.iter().any(|t| &**t == *name))
    }

    /// Every name read, with the index of what it fills.
    pub(crate) fn names(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.names.iter().filter_map(|(name, exported)| {
            let index = self
                .exported
                .iter()
                .position(|e| Arc::ptr_eq(e, exported))?;
            Some((&**name, index))
        })
    }
}

/// The attribution values a span carries itself, in its extensions; the layers over the AI
/// layer (the console) read them too.
#[derive(Debug, Default)]
pub(crate) struct Attribution {
    /// (index of the exported name, exported name, value). Shared, so that every AI span below
    /// takes the value without copying it.
    pub(crate) values: Vec<(usize, Arc<str>, Arc<str>)>,
}

impl Attribution {
    /// Room for every key at once: a request's ids are usually recorded together.
    pub(crate) fn with_room_for(keys: &AttributionKeys) -> Self {
        Self {
            values: Vec::with_capacity(keys.exported.len()),
        }
    }

    pub(crate) fn set(&mut self, index: usize, name: Arc<str>, value: Arc<str>) {
        match self.values.iter_mut().find(|(i, _, _)| *i == index) {
            Some((_, _, existing)) => *existing = value,
            None => self.values.push((index, name, value)),
        }
    }

    /// Takes every value `newer` has.
    pub(crate) fn update(&mut self, newer: Attribution) {
        for (index, name, value) in newer.values {
            self.set(index, name, value);
        }
    }
}

/// The attribution of an AI span: the nearest value of each key among the span and its
/// ancestors, then the OpenTelemetry baggage for what is still missing. Indexed by exported
/// name.
pub(crate) type Resolved = Vec<Option<Arc<str>>>;

/// Fills what is still missing from the baggage of `cx`, for the keys whose baggage the
/// service trusts.
pub(crate) fn fill_from_baggage(
    keys: &AttributionKeys,
    resolved: &mut Resolved,
    cx: &opentelemetry::Context,
) {
    if !keys.trusts_baggage() || resolved.iter().all(Option::is_some) {
        return;
    }
    let baggage = opentelemetry::baggage::BaggageExt::baggage(cx);
    if baggage.is_empty() {
        return;
    }
    for (name, index) in keys.trusted_baggage() {
        if resolved[index].is_none() {
            if let Some(value) = baggage.get(name).and_then(|v| from_baggage(v.as_str())) {
                resolved[index] = Some(value);
            }
        }
    }
}
