//! Finding the dispatcher a layer is part of, for calls that need one (tracing-opentelemetry's
//! context, recording by span id).

use std::sync::OnceLock;

use tracing::dispatcher::WeakDispatch;
use tracing::Dispatch;

/// The dispatcher `layer` was registered with, or else the current one if `layer` is in it:
/// a stack that does not pass registration on (an `Option` of a layer, in tracing-subscriber
/// 0.3) still works, as long as its spans close on a thread where it is the default.
pub(crate) fn of_layer<L: 'static>(
    registered: &OnceLock<WeakDispatch>,
    layer: &L,
) -> Option<Dispatch> {
    if let Some(dispatch) = registered.get().and_then(WeakDispatch::upgrade) {
        return Some(dispatch);
    }
    tracing::dispatcher::get_default(|dispatch| {
        dispatch
            .downcast_ref::<L>()
            .is_some_and(|found| std::ptr::eq(found, layer))
            .then(|| dispatch.clone())
    })
}
