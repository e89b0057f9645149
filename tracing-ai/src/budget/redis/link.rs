//! The store's connections to Redis: one multiplexed connection for the store's thread, and a
//! few blocking ones for sync callers, each opened ahead of the calls that need it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{Failure, Shared};

/// The one connection to Redis the store's thread shares between its tasks (redis'
/// multiplexed connection pipelines them), opened once and again only when it broke.
pub(super) struct Link {
    pub(super) client: redis::Client,
    pub(super) config: redis::AsyncConnectionConfig,
    pub(super) connection: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Link {
    /// The open connection, or a new one (one task opens it; the others wait for it).
    pub(super) async fn connection(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        let mut open = self.connection.lock().await;
        if let Some(connection) = &*open {
            return Ok(connection.clone());
        }
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        *open = Some(connection.clone());
        Ok(connection)
    }

    /// Forgets the connection when `error` says it is gone (Redis restarted, the socket
    /// closed), so that the next task opens another; a slow answer keeps it.
    async fn failed(&self, error: &redis::RedisError) {
        if error.is_unrecoverable_error() || error.is_connection_dropped() || error.is_io_error() {
            *self.connection.lock().await = None;
        }
    }

    /// Runs `invocation` on the connection within `timeout`, connecting included; the
    /// failure says whether the script may have reached Redis.
    pub(super) async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'static>,
        timeout: Duration,
    ) -> Result<T, Failure> {
        let mut sent = false;
        let outcome = tokio::time::timeout(timeout, async {
            let mut connection = self.connection().await?;
            sent = true;
            invocation.invoke_async(&mut connection).await
        })
        .await;
        match outcome {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => {
                self.failed(&error).await;
                Err(Failure {
                    reason: error.to_string(),
                    maybe_sent: sent,
                })
            }
            Err(_) => Err(Failure {
                reason: format!("no answer within {} ms", timeout.as_millis()),
                maybe_sent: sent,
            }),
        }
    }
}

/// Connections for sync functions to reserve on from their own threads, opened ahead by the
/// store's thread (never on a call's path: a call finding none goes through the store's thread)
/// and kept, at most [`MOST_BLOCKING_CONNECTIONS`]; one that failed is closed.
#[derive(Default)]
pub(super) struct BlockingConnections {
    idle: Mutex<Vec<redis::Connection>>,
    /// Open, idle or in use, or being opened.
    open: std::sync::atomic::AtomicUsize,
}

/// At most this many connections for sync functions (as many as calls reserve at once).
const MOST_BLOCKING_CONNECTIONS: usize = 8;

impl BlockingConnections {
    /// An idle connection, if any; one more is opened (in the background) when there is none.
    pub(super) fn take(&self, store: &Arc<Shared>) -> Option<redis::Connection> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if idle.is_none() {
            self.open_one(store);
        }
        idle
    }

    pub(super) fn give_back(&self, connection: redis::Connection) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(connection);
    }

    /// A connection taken was closed: another is opened in its place.
    pub(super) fn closed(&self, store: &Arc<Shared>) {
        self.open.fetch_sub(1, Ordering::Relaxed);
        self.open_one(store);
    }

    /// Opens one more connection on the store's blocking pool, unless there are enough.
    pub(super) fn open_one(&self, store: &Arc<Shared>) {
        let open = self.open.fetch_add(1, Ordering::Relaxed);
        if open >= MOST_BLOCKING_CONNECTIONS {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let store = store.clone();
        store.runtime.clone().spawn_blocking(move || {
            match connect(&store.config.client, store.config.timeout) {
                Ok(connection) => store.blocking.give_back(connection),
                Err(_) => {
                    store.blocking.open.fetch_sub(1, Ordering::Relaxed);
                }
            }
        });
    }
}

/// A connection for a sync function: every step bounded by `timeout` (a Redis that stops
/// answering costs a call the timeout, then the connection).
fn connect(client: &redis::Client, timeout: Duration) -> redis::RedisResult<redis::Connection> {
    let connection = client.get_connection_with_timeout(timeout)?;
    connection.set_read_timeout(Some(timeout))?;
    connection.set_write_timeout(Some(timeout))?;
    Ok(connection)
}
