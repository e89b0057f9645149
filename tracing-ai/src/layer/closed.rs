//! What the layer leaves in a closed AI span's extensions for the layers over it: the call's
//! facts as the layer read and priced them, so that the console shows what is exported
//! without reading the fields again.

use std::sync::Arc;

use super::fields::CallFields;

/// One AI call, as the layer settled it when its span closed.
#[derive(Debug)]
pub(crate) struct ClosedCall {
    pub(crate) fields: CallFields,
    /// In USD: priced by the layer, or recorded by the caller.
    pub(crate) usd: Option<f64>,
    /// The cost in the reporting currency, when that is not USD.
    pub(crate) reported: Option<(Arc<str>, f64)>,
    /// No cost could be computed.
    pub(crate) unpriced: bool,
}
