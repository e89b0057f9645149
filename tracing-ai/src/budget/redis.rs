//! Budgets shared across replicas, kept in Redis: each scope's account in its window is a hash
//! that every replica reserves in and debits, with one Lua script per step, so that a check
//! and its reservation are atomic across all replicas.
//!
//! An account is the hash `{prefix}:{budget}:{scope values}[:{period}]`: its fields are the
//! spend of each period or rolling bucket (`b:{index}`), what the calls in flight hold
//! (`held`) and the earliest end of their leases (`next`). The calls' reservations are the
//! hash `{account}:#r` (`{id}` = `{amount}:{lease end, ms}`), read whole only when a lease has
//! ended: a reservation whose replica died is given back then. So a reservation reads a few
//! fields however many calls are in flight. Amounts are integers of 10^-10 of the budget's
//! currency (the scripts sum them as Lua numbers, exact up to 900,000 USD a window). A key
//! expires when its window has passed.
//!
//! Every reservation and write has an id, and a marker key `{prefix}:#w:{id}` (kept an hour)
//! set when it is settled or given back: a write retried after a stall or a reconnect, whose
//! first try Redis did apply, changes nothing; a reservation that reaches Redis after its
//! caller gave up on it (and sent its release) is not made.
//!
//! The store's thread runs redis' tokio client, with one connection opened ahead of the calls.
//! A reservation is one round trip bounded by the timeout, connecting included: a sync function
//! waits for it (at most the timeout), an `async fn` awaits it (a stalled Redis parks its task,
//! not its thread). What the store cannot answer in time follows the [`OnStoreFailure`] policy,
//! counted and logged, and the reservation is given back. Settling and debiting go through a
//! bounded queue to the same thread, so that closing a span never waits on Redis; each is tried
//! until it is written (across a Redis restart), and given up, counted and logged, only when
//! the queue is full, after 55 minutes, or when the flush at exit runs out of time.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::store::{
    AccountKey, Answer, Balance, BudgetState, BudgetStore, Held, OpenStore, Passed, Reservation,
    Reserved, Reserving, Unflushed, WaitBy, MAX_ACCOUNTS,
};
use super::window::Period;
use super::{Budget, BudgetError, CallScope, OnLimit, Window};

/// The finest amount kept in Redis: 10^-10 of the currency.
const UNIT: f64 = 1e10;
/// Debits waiting for the thread that writes them; past it, a debit is counted lost.
const QUEUE: usize = 10_000;
/// A calendar account is kept this long past its window, for late settlements.
const GRACE_MS: u64 = 3_600_000;

const RESERVE: &str = r"
-- KEYS: for each account, five: its key, its reservations, its budget's `other` account and
-- that one's reservations, and the count of the budget's accounts (in the period); last, the
-- reservation's marker, set once it was settled or given back.
-- ARGV: id, now (ms), lease end (ms), the most accounts a budget has, then for each account:
-- oldest period counted, limit, amount, refuse (1 or 0), time to live (ms).
-- A new scope past the most goes to `other`: the answer's last item says which did ('1').
-- A reservation whose caller gave up (timed out, and sent its release) is not made when it
-- reaches Redis after its release.
if redis.call('EXISTS', KEYS[#KEYS]) == 1 then
  return {'late'}
end
local now = tonumber(ARGV[2])
local most = tonumber(ARGV[4])
local used, chosen, leases, new, folded = {}, {}, {}, {}, ''
for i = 1, (#KEYS - 1) / 5 do
  local k = (i - 1) * 5
  local base = 4 + (i - 1) * 5
  local key, held = KEYS[k + 1], KEYS[k + 2]
  new[i] = redis.call('EXISTS', key) == 0
  if new[i] and tonumber(redis.call('GET', KEYS[k + 5]) or '0') >= most then
    key, held = KEYS[k + 3], KEYS[k + 4]
    new[i] = false
    folded = folded .. '1'
  else
    folded = folded .. '0'
  end
  chosen[i], leases[i] = key, held
  local oldest = tonumber(ARGV[base + 1])
  local limit = tonumber(ARGV[base + 2])
  local amount = tonumber(ARGV[base + 3])
  -- The account holds the spend of its periods, the sum of what calls in flight hold
  -- ('held') and the earliest lease end ('next'): a reservation reads a few fields, however
  -- many calls are in flight.
  local fields = redis.call('HGETALL', key)
  local total, reserved, next_end = 0, 0, nil
  for j = 1, #fields, 2 do
    local field, value = fields[j], fields[j + 1]
    if string.sub(field, 1, 2) == 'b:' then
      if tonumber(string.sub(field, 3)) < oldest then
        redis.call('HDEL', key, field)
      else
        total = total + tonumber(value)
      end
    elseif field == 'held' then
      reserved = tonumber(value)
    elseif field == 'next' then
      next_end = tonumber(value)
    end
  end
  -- A lease has ended (its replica died mid-call): what it held is given back. Rare: the
  -- only time the reservations are read whole.
  if next_end and next_end < now then
    local calls = redis.call('HGETALL', held)
    local freed, earliest = 0, nil
    for j = 1, #calls, 2 do
      local value = calls[j + 1]
      local sep = string.find(value, ':', 1, true)
      local ends = tonumber(string.sub(value, sep + 1))
      if ends < now then
        redis.call('HDEL', held, calls[j])
        freed = freed + tonumber(string.sub(value, 1, sep - 1))
      elseif not earliest or ends < earliest then
        earliest = ends
      end
    end
    reserved = math.max(reserved - freed, 0)
    redis.call('HSET', key, 'held', string.format('%.0f', reserved))
    if earliest then
      redis.call('HSET', key, 'next', string.format('%.0f', earliest))
    else
      redis.call('HDEL', key, 'next')
    end
  end
  total = total + reserved
  used[i] = total
  if ARGV[base + 4] == '1' and (total >= limit or total + amount > limit) then
    return {'refused', tostring(i), string.format('%.0f', total), folded}
  end
end
local lease_end = tonumber(ARGV[3])
for i, key in ipairs(chosen) do
  local k = (i - 1) * 5
  local base = 4 + (i - 1) * 5
  if new[i] then
    redis.call('INCR', KEYS[k + 5])
    redis.call('PEXPIRE', KEYS[k + 5], ARGV[base + 5])
  end
  redis.call('HSET', leases[i], ARGV[1], ARGV[base + 3] .. ':' .. ARGV[3])
  redis.call('HINCRBY', key, 'held', ARGV[base + 3])
  local next_end = tonumber(redis.call('HGET', key, 'next') or '')
  if not next_end or lease_end < next_end then
    redis.call('HSET', key, 'next', ARGV[3])
  end
  redis.call('PEXPIRE', key, ARGV[base + 5])
  redis.call('PEXPIRE', leases[i], ARGV[base + 5])
end
local answer = {'reserved'}
for i = 1, #used do
  answer[#answer + 1] = string.format('%.0f', used[i])
end
answer[#answer + 1] = folded
return answer
";

const SETTLE: &str = r"
-- Settles a reservation (gives back what it holds and adds the cost), debits a call that
-- reserved nothing, or gives back a reservation whose caller gave up (a cost of 0): once. Its
-- id's marker is set the first time, and a write that finds it set (a retry after a stall or
-- a reconnect, whose first try was applied) changes nothing.
-- KEYS: for each account, the five of RESERVE; last, the write's marker. ARGV: the id, the most
-- accounts a budget has, how long the marker is kept (ms), then for each account: the period,
-- the cost (an integer, maybe 0), time to live (ms), oldest period counted. Returns what each
-- account spent in its window, every replica's settlements included, then which accounts went
-- to `other` ('1'), as RESERVE does; nothing when the write was applied before.
if not redis.call('SET', KEYS[#KEYS], '1', 'NX', 'PX', ARGV[3]) then
  return {}
end
local most = tonumber(ARGV[2])
local spent, folded = {}, ''
for i = 1, (#KEYS - 1) / 5 do
  local k = (i - 1) * 5
  local base = 3 + (i - 1) * 4
  local key, held = KEYS[k + 1], KEYS[k + 2]
  -- The reservation is given back from where RESERVE made it (its account, or `other`), and
  -- only if its lease has not given it back already.
  for _, at in ipairs({{k + 1, k + 2}, {k + 3, k + 4}}) do
    local hold = redis.call('HGET', KEYS[at[2]], ARGV[1])
    if hold then
      redis.call('HDEL', KEYS[at[2]], ARGV[1])
      local amount = string.sub(hold, 1, string.find(hold, ':', 1, true) - 1)
      -- Not '-0': Redis takes it for no integer.
      if amount ~= '0' then
        redis.call('HINCRBY', KEYS[at[1]], 'held', '-' .. amount)
      end
      break
    end
  end
  if ARGV[base + 2] ~= '0' and redis.call('EXISTS', key) == 0 then
    if tonumber(redis.call('GET', KEYS[k + 5]) or '0') >= most then
      key, held = KEYS[k + 3], KEYS[k + 4]
      folded = folded .. '1'
    else
      redis.call('INCR', KEYS[k + 5])
      redis.call('PEXPIRE', KEYS[k + 5], ARGV[base + 3])
      folded = folded .. '0'
    end
  else
    folded = folded .. '0'
  end
  if ARGV[base + 2] ~= '0' then
    redis.call('HINCRBY', key, 'b:' .. ARGV[base + 1], ARGV[base + 2])
  end
  redis.call('PEXPIRE', key, ARGV[base + 3])
  redis.call('PEXPIRE', held, ARGV[base + 3])
  local oldest = tonumber(ARGV[base + 4])
  local fields = redis.call('HGETALL', key)
  local total = 0
  for j = 1, #fields, 2 do
    local field = fields[j]
    if string.sub(field, 1, 2) == 'b:' and tonumber(string.sub(field, 3)) >= oldest then
      total = total + tonumber(fields[j + 1])
    end
  end
  spent[i] = string.format('%.0f', total)
end
spent[#spent + 1] = folded
return spent
";

const SPENT: &str = r"
-- KEYS[1]: an account. ARGV[1]: the oldest period counted.
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for j = 1, #fields, 2 do
  local field = fields[j]
  if string.sub(field, 1, 2) == 'b:' and tonumber(string.sub(field, 3)) >= tonumber(ARGV[1]) then
    total = total + tonumber(fields[j + 1])
  end
end
return string.format('%.0f', total)
";

/// What a call does when the budget store cannot answer in time (down, slow, refusing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnStoreFailure {
    /// The call goes on as if no budget covered it (its cost is still debited when the store
    /// is back, if the debit queue holds it). The default: a budget store must not take the
    /// service down with it.
    #[default]
    Open,
    /// The call is refused: it returns [`BudgetExceeded`](super::BudgetExceeded) for which
    /// [`is_store_failure`](super::BudgetExceeded::is_store_failure) is true, and its span says
    /// `error.type = budget_unavailable`.
    Closed,
}

/// Budgets kept in Redis, shared by every replica that uses the same server and prefix (feature
/// `redis`): give it to [`AiLayerBuilder::with_budget_store`](crate::AiLayerBuilder::with_budget_store).
///
/// One Redis server, not Redis Cluster: a reservation is one script over the keys of every
/// budget and scope the call is in, which Cluster refuses when they are in several slots.
///
/// # In Redis
///
/// Every key starts with the prefix (`tracing-ai:budget` by default, [`with_prefix`](Self::with_prefix));
/// names and scope values in keys have `%` and `:` escaped (`%25`, `%3A`).
///
/// | key | type | what | expires |
/// |---|---|---|---|
/// | `{prefix}:{budget}:{tenant}:{feature}:{user}:{session}:{model}[:{period}]` (each scope's value, empty when the budget is not per it; the period for a day or month window) | hash | the account: `b:{period or bucket}` = spend, `held` = what calls in flight hold, `next` = the earliest end of their leases (ms) | an hour after a calendar window ends; a rolling window's length after the last write |
/// | `{account}:#r` | hash | the calls in flight: `{id}` = `{amount}:{lease end, ms}` | with the account; empty, it is gone |
/// | `{prefix}:{budget}:#accounts[:{period}]` | string | how many accounts the budget opened (see [`with_max_accounts`](Self::with_max_accounts)) | with the accounts |
/// | `{prefix}:#w:{id}` | string | the marker of a reservation or write applied (or given back): a retry of it is a no-op | an hour after it is set |
///
/// Amounts are integers of 10^-10 of the budget's currency. Measured with `MEMORY USAGE` on
/// Redis 7.0 (`tests/tests/budget_redis.rs` holds these figures): an account about 140 bytes
/// (410 with a 256-byte id), each call's marker about 70 bytes for an hour (about 250 KB an
/// hour at one call a second), and each call in flight an entry of its account's `#r`.
///
/// ```no_run
/// use std::time::Duration;
/// use tracing_ai::budget::{Budget, OnStoreFailure, RedisBudgets, Scope, Window};
///
/// let layer = tracing_ai::AiLayer::builder()
///     .with_budget(Budget::new("tenant-daily", 25.0, Window::Day).per(Scope::Tenant))
///     .with_budget_store(
///         RedisBudgets::new("redis://127.0.0.1:6379/")?
///             .with_timeout(Duration::from_millis(20))
///             .on_failure(OnStoreFailure::Closed),
///     )
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RedisBudgets {
    client: redis::Client,
    /// The URL without its credentials, for `Debug` and messages.
    shown: String,
    timeout: Duration,
    on_failure: OnStoreFailure,
    prefix: String,
    lease: Duration,
    max_accounts: u64,
}

impl RedisBudgets {
    /// The Redis at `url` (`redis://host:port/db`, with `user:password@` if it needs them),
    /// with a timeout of 50 ms, `fail-open`, the key prefix `tracing-ai:budget` and leases of
    /// 10 minutes. Nothing connects yet.
    pub fn new(url: &str) -> Result<Self, BudgetError> {
        let not_a_url = |error: redis::RedisError| {
            BudgetError::new(format!(
                "{} is not a Redis URL ({error}); write redis://host:port/ (or rediss:// with TLS, \
                 which this build does not have)",
                crate::redact::endpoint(url)
            ))
        };
        let info = redis::IntoConnectionInfo::into_connection_info(url).map_err(not_a_url)?;
        // Small requests that each wait for their answer: no Nagle delay.
        let tcp = info.tcp_settings().clone().set_nodelay(true);
        let client = redis::Client::open(info.set_tcp_settings(tcp)).map_err(not_a_url)?;
        Ok(Self {
            client,
            shown: crate::redact::endpoint(url),
            timeout: Duration::from_millis(50),
            on_failure: OnStoreFailure::Open,
            prefix: "tracing-ai:budget".to_owned(),
            lease: Duration::from_secs(600),
            max_accounts: MAX_ACCOUNTS as u64,
        })
    }

    /// How long a reservation waits for Redis before the failure policy applies, connecting
    /// included (the store opens its connection ahead of the calls and keeps it). A settlement
    /// waits at least 500 ms a try, and is tried again until Redis takes it.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What a call does when Redis cannot answer in time.
    #[must_use]
    pub fn on_failure(mut self, policy: OnStoreFailure) -> Self {
        self.on_failure = policy;
        self
    }

    /// The prefix of every key (for services that share a Redis but not their budgets).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a reservation holds its amount when its call never settles (its replica
    /// died): longer than any call takes.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How many accounts one budget opens in Redis in one period (a calendar window's day or
    /// month; for a rolling window, until no new one has been opened for a window) before new
    /// scopes share its account `other`, under one limit, as they do in-process: ids a caller
    /// makes up cannot fill Redis. Scopes that have an account keep it. 100,000 by default;
    /// an account takes about 140 bytes of Redis memory (410 with a 256-byte id, the longest
    /// kept), so 100,000 accounts about 14 to 41 MB: see [the layout](RedisBudgets#in-redis).
    ///
    /// ```no_run
    /// use tracing_ai::budget::RedisBudgets;
    ///
    /// let store = RedisBudgets::new("redis://127.0.0.1:6379/")?.with_max_accounts(10_000);
    /// # Ok::<(), tracing_ai::budget::BudgetError>(())
    /// ```
    #[must_use]
    pub fn with_max_accounts(mut self, accounts: u64) -> Self {
        self.max_accounts = accounts;
        self
    }
}

impl std::fmt::Debug for RedisBudgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client's: its connection info holds the password.
        f.debug_struct("RedisBudgets")
            .field("url", &self.shown)
            .field("timeout", &self.timeout)
            .field("on_failure", &self.on_failure)
            .field("prefix", &self.prefix)
            .field("lease", &self.lease)
            .field("max_accounts", &self.max_accounts)
            .finish()
    }
}

/// A reservation's hold in Redis: its id and accounts, to settle.
#[derive(Debug)]
struct RemoteHold {
    id: String,
    accounts: Vec<(Account, Arc<str>)>,
    store: Arc<Shared>,
}

impl Held for RemoteHold {
    /// Queues the settlement: Redis says what the budget spent later, to the gauges.
    fn settle(
        self: Box<Self>,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) -> Option<BudgetState> {
        let RemoteHold {
            id,
            accounts,
            store,
        } = *self;
        store.settle(id, accounts, cost, now);
        None
    }
}

/// An account in Redis: its key there and its reservations', and the budget's; the keys of
/// the budget's `other` account and of its count of accounts, for a scope that has none yet.
#[derive(Debug)]
struct Account {
    name: String,
    held: String,
    other: String,
    other_held: String,
    count: String,
    window: Window,
    /// The period (or rolling bucket) of the reservation or debit: its cost counts there, as
    /// in-process, however long the call took.
    period: Period,
    key: AccountKey,
}

impl Account {
    /// This account's scope went to the budget's `other` account (the script said so).
    fn fold(&mut self) {
        std::mem::swap(&mut self.name, &mut self.other);
        std::mem::swap(&mut self.held, &mut self.other_held);
        self.key = self.key.other();
    }

    /// Its five keys, in the scripts' order.
    fn keys(&self) -> [&str; 5] {
        [
            &self.name,
            &self.held,
            &self.other,
            &self.other_held,
            &self.count,
        ]
    }
}

/// Which accounts of an answer went to `other`, from the flags it ends with.
fn folded(flags: Option<&String>, index: usize) -> bool {
    flags.and_then(|flags| flags.as_bytes().get(index)) == Some(&b'1')
}

/// What each account this replica settled in had spent, every replica's spend included, as
/// Redis answered the last settlement: what the gauges show.
#[derive(Debug, Default)]
struct Seen {
    accounts: Mutex<HashMap<AccountKey, SeenSpend>>,
    /// Some gauge reads it: without metrics, nothing is kept.
    wanted: AtomicBool,
}

#[derive(Debug, Clone, Copy)]
struct SeenSpend {
    /// In the store's units.
    spent: i64,
    /// The window's period it was read in: a calendar account starts again at 0 past it.
    period: u64,
}

impl Seen {
    /// Some gauge reads the accounts from now on: keep them.
    fn wanted(&self) {
        self.wanted.store(true, Ordering::Relaxed);
    }

    fn record(&self, key: &AccountKey, spend: SeenSpend) {
        if !self.wanted.load(Ordering::Relaxed) {
            return;
        }
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        if accounts.len() < MAX_ACCOUNTS || accounts.contains_key(key) {
            accounts.insert(key.clone(), spend);
        }
    }

    /// The balances of the accounts seen, for `budgets` as they are now; the accounts of
    /// budgets no longer there or of a period past are forgotten.
    fn balances(&self, budgets: &[Budget], now: SystemTime) -> Vec<Balance> {
        let mut balances = Vec::new();
        self.accounts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key, seen| {
                let Some(budget) = budgets.iter().find(|budget| budget.name == key.budget) else {
                    return false;
                };
                // A rolling window's spend is as of the last settlement (it may be lower now).
                let current = matches!(budget.window, Window::Rolling(_))
                    || budget.window.period(now).index == seen.period;
                if current {
                    balances.push(Balance {
                        key: key.clone(),
                        spent: crate::money::round_money(seen.spent as f64 / UNIT),
                        limit: budget.limit,
                        currency: budget.currency.clone(),
                    });
                }
                current
            });
        balances
    }
}

/// The live store: a thread of its own runs redis' tokio client, with one connection opened
/// ahead of the calls and kept (reopened when it breaks); the calls' reservations and the
/// queue of settlements go through it. Dropped, it ends the thread.
pub(crate) struct RedisStore {
    shared: Arc<Shared>,
    /// Ends the store's thread (once the writes it has are given up), joined on drop.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the store's calls, holds and answers share.
struct Shared {
    config: RedisBudgets,
    /// The connections sync functions reserve on, from their own threads.
    blocking: BlockingConnections,
    runtime: tokio::runtime::Handle,
    link: Arc<Link>,
    jobs: tokio::sync::mpsc::Sender<Job>,
    next_id: AtomicU64,
    process: u64,
    pending: Arc<Pending>,
    failures: Arc<StoreCounts>,
    seen: Arc<Seen>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.shared.fmt(f)
    }
}

/// What went wrong with the store, counted (`ai.budget.store_failures`).
#[derive(Debug, Default)]
struct StoreCounts {
    /// Reservations the store did not answer in time; the policy applied.
    reservations: AtomicU64,
    /// Settlements and debits given up: not written within [`GIVE_UP`], the queue was full,
    /// or still unwritten at the exit's flush deadline.
    debits: AtomicU64,
}

/// The one connection to Redis the store's thread shares between its tasks (redis'
/// multiplexed connection pipelines them), opened once and again only when it broke.
struct Link {
    client: redis::Client,
    config: redis::AsyncConnectionConfig,
    connection: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Link {
    /// The open connection, or a new one (one task opens it; the others wait for it).
    async fn connection(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
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
    async fn run<T: redis::FromRedisValue>(
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
struct BlockingConnections {
    idle: Mutex<Vec<redis::Connection>>,
    /// Open, idle or in use, or being opened.
    open: std::sync::atomic::AtomicUsize,
}

/// At most this many connections for sync functions (as many as calls reserve at once).
const MOST_BLOCKING_CONNECTIONS: usize = 8;

impl BlockingConnections {
    /// An idle connection, if any; one more is opened (in the background) when there is none.
    fn take(&self, store: &Arc<Shared>) -> Option<redis::Connection> {
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

    fn give_back(&self, connection: redis::Connection) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(connection);
    }

    /// A connection taken was closed: another is opened in its place.
    fn closed(&self, store: &Arc<Shared>) {
        self.open.fetch_sub(1, Ordering::Relaxed);
        self.open_one(store);
    }

    /// Opens one more connection on the store's blocking pool, unless there are enough.
    fn open_one(&self, store: &Arc<Shared>) {
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

/// Why the store did not answer, and whether what was asked may still happen there.
#[derive(Debug)]
struct Failure {
    reason: String,
    /// The script was sent (or being sent): Redis may run it after the caller gave up.
    maybe_sent: bool,
}

/// What the store's writer does next, in order.
enum Job {
    Write(Write),
    /// Answered once every write queued before it is written or given up.
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// A settlement, a debit, or the release of a reservation whose caller gave up: applied once
/// in Redis (by its id), retried until it is or [`GIVE_UP`] has passed.
struct Write {
    id: String,
    /// Its key in Redis, set once it is applied.
    marker: String,
    /// The cost of each account, in units (0 for a release).
    accounts: Vec<(Account, i64)>,
    /// The call's cost in its first budget's currency, for the messages of a write given up.
    cost: Option<(Arc<str>, i64)>,
    /// When it was made, by the layer's clock: the window it counts in.
    now: SystemTime,
    queued: std::time::Instant,
}

/// The writes queued and not yet written or given up, and what the calls they settle cost:
/// what a flush that ran out of time reports.
#[derive(Debug, Default)]
struct Pending {
    totals: Mutex<PendingTotals>,
    /// Set when a flush at exit gave the rest up: the writer drops what is left, uncounted
    /// (the flush counted it).
    abandoned: AtomicBool,
}

#[derive(Debug, Default, Clone)]
struct PendingTotals {
    writes: u64,
    /// By currency, in units.
    costs: std::collections::BTreeMap<Arc<str>, i64>,
}

impl Pending {
    fn change(&self, write: &Write, added: bool) {
        let mut totals = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        if added {
            totals.writes += 1;
        } else {
            totals.writes = totals.writes.saturating_sub(1);
        }
        if let Some((currency, units)) = &write.cost {
            let total = totals.costs.entry(currency.clone()).or_default();
            *total = if added {
                total.saturating_add(*units)
            } else {
                total.saturating_sub(*units)
            };
        }
    }

    fn totals(&self) -> PendingTotals {
        self.totals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl PendingTotals {
    /// `3 settlement(s) of calls that cost 0.0125 USD`.
    fn describe(&self) -> String {
        let mut text = format!("{} settlement(s)", self.writes);
        let costs: Vec<String> = self
            .costs
            .iter()
            .filter(|(_, units)| **units > 0)
            .map(|(currency, units)| {
                format!("{} {currency}", crate::money::decimal(*units as f64 / UNIT))
            })
            .collect();
        if !costs.is_empty() {
            let _ = write!(text, " of calls that cost {}", costs.join(" and "));
        }
        text
    }
}

/// The reservation of one call, sent to Redis and waited for.
struct Waiting {
    store: Arc<Shared>,
    budgets: Arc<[Budget]>,
    /// Each covering budget (by index in `budgets`), its account and its estimate.
    covering: Vec<(usize, AccountKey, f64)>,
    accounts: Vec<(Account, Arc<str>)>,
    id: String,
    now: SystemTime,
    answer: Reply,
}

/// Where the store's thread puts a reservation's answer: a channel a thread blocks on (for a
/// bounded time), or one a task awaits.
enum Reply {
    /// Answered already, on the caller's thread.
    Ready(Option<Result<Vec<String>, Failure>>),
    Blocking(std::sync::mpsc::Receiver<Result<Vec<String>, Failure>>),
    Async(tokio::sync::oneshot::Receiver<Result<Vec<String>, Failure>>),
}

/// How long a write's marker is kept in Redis: a retry of the write within it changes
/// nothing. About 70 bytes of Redis memory per call for this long.
const REMEMBERED: Duration = Duration::from_secs(3_600);
/// A write not applied this long after it was queued is given up (counted and logged): past
/// [`REMEMBERED`], a retry could be applied a second time.
pub(crate) const GIVE_UP: Duration = Duration::from_secs(3_300);
/// The longest wait between two tries of a write.
const MOST_BACKOFF: Duration = Duration::from_secs(1);
/// What a blocked caller waits beyond the timeout for the store's thread to answer.
const SLACK: Duration = Duration::from_millis(20);

static RESERVE_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(RESERVE));
static SETTLE_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(SETTLE));
static SPENT_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(SPENT));

impl Answer for Waiting {
    fn wait_blocking(self: Box<Self>) -> Reserved {
        let store = self.store.clone();
        store.wait_blocking(*self)
    }

    fn wait(
        self: Box<Self>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Reserved> + Send>> {
        Box::pin(async move {
            let store = self.store.clone();
            store.wait(*self).await
        })
    }
}

impl OpenStore for RedisBudgets {
    fn open(
        &self,
        _budgets: &[Budget],
        _now: SystemTime,
    ) -> Result<Arc<dyn BudgetStore>, BudgetError> {
        Ok(Arc::new(RedisStore::start(self.clone())?))
    }
}

impl BudgetStore for RedisStore {
    fn reserve(
        &self,
        budgets: Arc<[Budget]>,
        scope: &CallScope,
        estimate: &mut dyn FnMut(&Budget) -> f64,
        now: SystemTime,
        wait: WaitBy,
    ) -> Reserving {
        match self
            .shared
            .send_reservation(budgets, scope, estimate, now, wait)
        {
            Some(waiting) => Reserving::Waiting(Box::new(waiting)),
            None => Reserving::Done(Ok((None, Vec::new()))),
        }
    }

    fn debit(
        &self,
        budgets: &[Budget],
        scope: &CallScope,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) {
        self.shared.debit(budgets, scope, cost, now);
    }

    /// What each account had spent, every replica's spend included, when this replica last
    /// settled in it.
    fn balances(&self, budgets: &[Budget], now: SystemTime) -> Vec<Balance> {
        self.shared.seen.balances(budgets, now)
    }

    fn spent(&self, budget: &Budget, key: &AccountKey, now: SystemTime) -> Option<f64> {
        self.shared.spent(budget, key, now)
    }

    fn flush(&self, timeout: Duration) -> Result<(), Unflushed> {
        self.shared.flush(timeout)
    }

    fn give_up(&self) {
        self.shared.give_up();
    }

    /// `ai.budget.store_failures`; what Redis answers is kept for the gauges from now on.
    fn report(&self, meter: &opentelemetry::metrics::Meter) {
        use opentelemetry::KeyValue;
        self.shared.seen.wanted();
        let failures = self.shared.failures.clone();
        meter
            .u64_observable_counter(crate::attr::AI_BUDGET_STORE_FAILURES)
            .with_unit("{operation}")
            .with_description(
                "Reservations the budget store did not answer in time, and settlements or \
                 debits given up",
            )
            .with_callback(move |observer| {
                for (operation, counter) in [
                    ("reserve", &failures.reservations),
                    ("debit", &failures.debits),
                ] {
                    observer.observe(
                        counter.load(Ordering::Relaxed),
                        &[KeyValue::new(crate::attr::AI_BUDGET_OPERATION, operation)],
                    );
                }
            })
            .build();
    }
}

impl RedisStore {
    pub(crate) fn start(config: RedisBudgets) -> Result<Self, BudgetError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| {
                BudgetError::new(format!(
                    "the Redis budget store could not start its runtime ({error})"
                ))
            })?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tracing-ai-budgets".to_owned())
            .spawn(move || {
                // Runs the store's tasks until the store is dropped.
                let _ = runtime.block_on(stopped);
            })
            .map_err(|error| {
                BudgetError::new(format!(
                    "the Redis budget store could not start its thread ({error})"
                ))
            })?;
        let link = Arc::new(Link {
            client: config.client.clone(),
            config: redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(config.timeout))
                .set_response_timeout(None),
            connection: tokio::sync::Mutex::new(None),
        });
        // Opened ahead of the first call, which would otherwise wait for it.
        let ahead = link.clone();
        handle.spawn(async move {
            let _ = ahead.connection().await;
        });
        let (jobs, queue) = tokio::sync::mpsc::channel(QUEUE);
        let failures = Arc::new(StoreCounts::default());
        let seen = Arc::new(Seen::default());
        let pending = Arc::new(Pending::default());
        let writer = Writer {
            link: link.clone(),
            timeout: config.timeout.max(Duration::from_millis(500)),
            max_accounts: config.max_accounts,
            failures: failures.clone(),
            seen: seen.clone(),
            pending: pending.clone(),
        };
        handle.spawn(writer.run(queue));
        let process = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |now| now.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32);
        Ok(Self {
            shared: Arc::new(Shared {
                blocking: BlockingConnections::default(),
                config,
                runtime: handle,
                link,
                jobs,
                next_id: AtomicU64::new(0),
                process,
                pending,
                failures,
                seen,
            }),
            stop: Some(stop),
            thread: Some(thread),
        })
        .inspect(|store| store.shared.blocking.open_one(&store.shared))
    }
}

impl Shared {
    /// An id no other write of any replica has: this process' and a counter.
    fn next_id(&self) -> String {
        format!(
            "{:x}-{:x}",
            self.process,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The account of `key` in Redis, in `window` as of `now`.
    fn key(&self, key: &AccountKey, window: &Window, now: SystemTime) -> String {
        let mut name = format!("{}:{}", self.config.prefix, escape(&key.budget));
        for value in &key.scope {
            name.push(':');
            if let Some(value) = value {
                name.push_str(&escape(value));
            }
        }
        with_period(name, window, now)
    }

    /// The marker of write (or reservation) `id`.
    fn marker(&self, id: &str) -> String {
        format!("{}:#w:{id}", self.config.prefix)
    }

    /// `key`'s account with the keys the scripts need to open it (see [`Account`]).
    fn account(&self, key: AccountKey, window: Window, now: SystemTime) -> Account {
        // One `:` after the budget's name, where an account has one per scope: no account's
        // key can be the count's.
        let count = format!("{}:{}:#accounts", self.config.prefix, escape(&key.budget));
        let name = self.key(&key, &window, now);
        let other = self.key(&key.other(), &window, now);
        Account {
            held: format!("{name}:#r"),
            other_held: format!("{other}:#r"),
            name,
            other,
            count: with_period(count, &window, now),
            window,
            period: window.period(now),
            key,
        }
    }

    /// Sends the reservation of a call of `scope` (what [`Ledger::reserve`](super::Ledger::reserve)
    /// does, in Redis) to the store's thread; `Err` with what to return at once when no budget
    /// covers the call.
    fn send_reservation(
        self: &Arc<Self>,
        budgets: Arc<[Budget]>,
        scope: &CallScope,
        estimate: &mut dyn FnMut(&Budget) -> f64,
        now: SystemTime,
        wait: WaitBy,
    ) -> Option<Waiting> {
        let covering: Vec<(usize, AccountKey, f64)> = budgets
            .iter()
            .enumerate()
            .filter_map(|(index, budget)| {
                let key = budget.account(scope)?;
                Some((index, key, estimate(budget)))
            })
            .collect();
        if covering.is_empty() {
            return None;
        }
        let id = self.next_id();
        let now_ms = millis(now);
        let mut invocation = RESERVE_SCRIPT.prepare_invoke();
        invocation
            .arg(&id)
            .arg(now_ms)
            .arg(now_ms + self.config.lease.as_millis() as u64)
            .arg(self.config.max_accounts);
        let mut accounts = Vec::with_capacity(covering.len());
        for (index, key, amount) in &covering {
            let budget = &budgets[*index];
            let account = self.account(key.clone(), budget.window, now);
            let period = budget.window.period(now);
            for name in account.keys() {
                invocation.key(name);
            }
            invocation
                .arg(budget.window.oldest_counted(period.index))
                .arg(units(budget.limit))
                .arg(units(*amount))
                .arg(u8::from(budget.on_limit == OnLimit::Refuse))
                .arg(ttl(&budget.window, period.ends, now));
            accounts.push((account, budget.currency.clone()));
        }
        invocation.key(self.marker(&id));
        let link = self.link.clone();
        let timeout = self.config.timeout;
        // A sync function on a connection of its own, on its thread: one round trip, not two
        // hops through the store's thread (which cost 150 µs a call on a two-core VM).
        let connection = match wait {
            WaitBy::Blocking => self.blocking.take(self),
            WaitBy::Awaiting => None,
        };
        let answer = match (wait, connection) {
            (WaitBy::Blocking, Some(mut connection)) => {
                let answer = invocation.invoke::<Vec<String>>(&mut connection);
                match answer {
                    Ok(answer) => {
                        self.blocking.give_back(connection);
                        Reply::Ready(Some(Ok(answer)))
                    }
                    // Its state is unknown (an answer may come late): it is closed.
                    Err(error) => {
                        self.blocking.closed(self);
                        Reply::Ready(Some(Err(Failure {
                            reason: error.to_string(),
                            maybe_sent: true,
                        })))
                    }
                }
            }
            (WaitBy::Blocking, None) => {
                let (answered, answer) = std::sync::mpsc::sync_channel(1);
                self.runtime.spawn(async move {
                    let _ = answered.send(link.run(&invocation, timeout).await);
                });
                Reply::Blocking(answer)
            }
            (WaitBy::Awaiting, _) => {
                let (answered, answer) = tokio::sync::oneshot::channel();
                self.runtime.spawn(async move {
                    let _ = answered.send(link.run(&invocation, timeout).await);
                });
                Reply::Async(answer)
            }
        };
        Some(Waiting {
            store: self.clone(),
            budgets,
            covering,
            accounts,
            id,
            now,
            answer,
        })
    }

    /// Waits for `waiting`'s answer, blocking the thread at most the timeout.
    fn wait_blocking(self: &Arc<Self>, mut waiting: Waiting) -> Reserved {
        let answer = match &mut waiting.answer {
            Reply::Ready(answer) => answer.take().unwrap_or_else(|| Err(self.unanswered())),
            Reply::Blocking(answer) => answer
                .recv_timeout(self.config.timeout + SLACK)
                .unwrap_or_else(|_| Err(self.unanswered())),
            Reply::Async(answer) => answer.try_recv().unwrap_or_else(|_| Err(self.unanswered())),
        };
        self.answered(waiting, answer)
    }

    /// Waits for `waiting`'s answer in a task: the thread goes on with other tasks meanwhile.
    async fn wait(self: &Arc<Self>, mut waiting: Waiting) -> Reserved {
        let answer = match &mut waiting.answer {
            Reply::Ready(answer) => answer.take().unwrap_or_else(|| Err(self.unanswered())),
            // The store's thread answers within the timeout, always.
            Reply::Async(answer) => answer.await.unwrap_or_else(|_| Err(self.unanswered())),
            Reply::Blocking(answer) => answer
                .recv_timeout(self.config.timeout + SLACK)
                .unwrap_or_else(|_| Err(self.unanswered())),
        };
        self.answered(waiting, answer)
    }

    fn unanswered(&self) -> Failure {
        Failure {
            reason: "the budget store's thread did not answer".to_owned(),
            maybe_sent: true,
        }
    }

    fn answered(
        self: &Arc<Self>,
        waiting: Waiting,
        answer: Result<Vec<String>, Failure>,
    ) -> Reserved {
        let Waiting {
            budgets,
            covering,
            mut accounts,
            id,
            now,
            ..
        } = waiting;
        let answer = match answer {
            Ok(answer) if answer.first().map(String::as_str) != Some("late") => answer,
            Ok(_) => {
                return self.failed(&budgets, &covering, accounts, id, &self.unanswered(), now)
            }
            Err(failure) => return self.failed(&budgets, &covering, accounts, id, &failure, now),
        };
        let used = |text: Option<&String>| {
            text.and_then(|text| text.parse::<f64>().ok())
                .map_or(0.0, |units| units / UNIT)
        };
        match answer.first().map(String::as_str) {
            Some("refused") => {
                let index: usize = answer
                    .get(1)
                    .and_then(|text| text.parse().ok())
                    .unwrap_or(1);
                let index = index.clamp(1, covering.len()) - 1;
                let (budget, key, amount) = &covering[index];
                let key = if folded(answer.get(3), index) {
                    &key.other()
                } else {
                    key
                };
                Err(budgets[*budget].exceeded(
                    key,
                    crate::money::round_money(used(answer.get(2))),
                    *amount,
                    now,
                ))
            }
            _ => {
                let flags = answer.get(covering.len() + 1);
                let mut passed = Vec::new();
                for (index, (budget, _, amount)) in covering.iter().enumerate() {
                    let budget = &budgets[*budget];
                    let account = &mut accounts[index].0;
                    if folded(flags, index) {
                        account.fold();
                    }
                    let spent = used(answer.get(index + 1));
                    if budget.on_limit == OnLimit::Warn
                        && (spent >= budget.limit || spent + amount > budget.limit)
                    {
                        let over = budget.exceeded(
                            &account.key,
                            crate::money::round_money(spent),
                            *amount,
                            now,
                        );
                        passed.push(Passed { over });
                    }
                }
                let reservation = Reservation::new(RemoteHold {
                    id,
                    accounts,
                    store: self.clone(),
                });
                Ok((Some(reservation), passed))
            }
        }
    }

    /// The store did not answer the reservation `id` in time: the failure is counted and
    /// logged, the reservation given back (if Redis runs it late, the release finds it, or
    /// comes first and it is not made), and the policy applied.
    fn failed(
        &self,
        budgets: &[Budget],
        covering: &[(usize, AccountKey, f64)],
        accounts: Vec<(Account, Arc<str>)>,
        id: String,
        failure: &Failure,
        now: SystemTime,
    ) -> Reserved {
        if failure.maybe_sent {
            let accounts = accounts
                .into_iter()
                .map(|(account, _)| (account, 0))
                .collect();
            self.write(id, accounts, None, now);
        }
        let count = self.failures.reservations.fetch_add(1, Ordering::Relaxed) + 1;
        if worth_a_warning(count) {
            tracing::warn!(
                target: "tracing_ai",
                parent: None,
                "the budget store did not answer ({}); {count} reservation(s) so far {}",
                failure.reason,
                match self.config.on_failure {
                    OnStoreFailure::Open => "went ahead without a budget check (fail-open)",
                    OnStoreFailure::Closed => "were refused (fail-closed)",
                }
            );
        }
        match self.config.on_failure {
            OnStoreFailure::Open => Ok((None, Vec::new())),
            OnStoreFailure::Closed => {
                let (budget, key, amount) = &covering[0];
                let mut refused = budgets[*budget].exceeded(key, 0.0, *amount, now);
                refused.0.store_failure = Some(failure.reason.as_str().into());
                Err(refused)
            }
        }
    }

    /// Queues the settlement of reservation `id` with what the call cost.
    fn settle(
        &self,
        id: String,
        accounts: Vec<(Account, Arc<str>)>,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) {
        let mut first = None;
        let accounts = accounts
            .into_iter()
            .map(|(account, currency)| {
                let units = cost(&currency).map_or(0, units);
                first.get_or_insert((currency, units));
                (account, units)
            })
            .collect();
        self.write(id, accounts, first, now);
    }

    /// Queues the debit of a call that reserved nothing.
    fn debit(
        &self,
        budgets: &[Budget],
        scope: &CallScope,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) {
        let mut first = None;
        let accounts: Vec<(Account, i64)> = budgets
            .iter()
            .filter_map(|budget| {
                let key = budget.account(scope)?;
                let units = cost(&budget.currency).map(units)?;
                first.get_or_insert((budget.currency.clone(), units));
                Some((self.account(key, budget.window, now), units))
            })
            .collect();
        if !accounts.is_empty() {
            let id = self.next_id();
            self.write(id, accounts, first, now);
        }
    }

    fn write(
        &self,
        id: String,
        accounts: Vec<(Account, i64)>,
        cost: Option<(Arc<str>, i64)>,
        now: SystemTime,
    ) {
        let write = Write {
            now,
            marker: self.marker(&id),
            id,
            accounts,
            cost,
            queued: std::time::Instant::now(),
        };
        self.pending.change(&write, true);
        if let Err(refused) = self.jobs.try_send(Job::Write(write)) {
            let (tokio::sync::mpsc::error::TrySendError::Full(Job::Write(write))
            | tokio::sync::mpsc::error::TrySendError::Closed(Job::Write(write))) = refused
            else {
                return;
            };
            self.pending.change(&write, false);
            let lost = self.failures.debits.fetch_add(1, Ordering::Relaxed) + 1;
            if worth_a_warning(lost) {
                tracing::warn!(
                    target: "tracing_ai",
                    parent: None,
                    "{lost} budget settlement(s) could not be queued for Redis (the store is \
                     {QUEUE} behind); their spend is missing from the shared budgets"
                );
            }
        }
    }

    /// Waits until every settlement queued so far is written (or given up), at most
    /// `timeout`; what is still unwritten then, with what its calls cost.
    fn flush(&self, timeout: Duration) -> Result<(), Unflushed> {
        if self.pending.totals().writes == 0 {
            return Ok(());
        }
        let deadline = std::time::Instant::now() + timeout;
        let (done, flushed) = std::sync::mpsc::sync_channel(1);
        let mut job = Job::Flush(done);
        loop {
            match self.jobs.try_send(job) {
                Ok(()) => break,
                Err(tokio::sync::mpsc::error::TrySendError::Full(again)) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(self.unflushed());
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    job = again;
                }
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                    return Err(self.unflushed());
                }
            }
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        flushed.recv_timeout(left).map_err(|_| self.unflushed())
    }

    fn unflushed(&self) -> Unflushed {
        Unflushed::new(
            self.pending.totals().describe(),
            format!("the budget store at {}", self.config.shown),
            "their spend is missing from the shared budgets unless this process goes on running \
             until Redis answers",
        )
    }

    /// Gives up what is still unwritten, at exit: counted in `ai.budget.store_failures` (the
    /// caller says it, with what the calls cost); the writer drops it.
    fn give_up(&self) {
        let totals = self.pending.totals();
        self.pending.abandoned.store(true, Ordering::Relaxed);
        self.failures
            .debits
            .fetch_add(totals.writes, Ordering::Relaxed);
    }

    /// What the account of `key` spent in `budget`'s window, read from Redis within the
    /// timeout.
    fn spent(&self, budget: &Budget, key: &AccountKey, now: SystemTime) -> Option<f64> {
        let name = self.key(key, &budget.window, now);
        let oldest = budget
            .window
            .oldest_counted(budget.window.period(now).index);
        let mut invocation = SPENT_SCRIPT.prepare_invoke();
        invocation.key(&name).arg(oldest);
        let (answered, answer) = std::sync::mpsc::sync_channel(1);
        let (link, timeout) = (self.link.clone(), self.config.timeout);
        self.runtime.spawn(async move {
            let _ = answered.send(link.run::<String>(&invocation, timeout).await);
        });
        answer
            .recv_timeout(timeout + SLACK)
            .ok()?
            .ok()
            .and_then(|text| text.parse::<f64>().ok())
            .map(|units| crate::money::round_money(units / UNIT))
    }
}

impl Drop for RedisStore {
    /// Ends the store's thread: what it has not written is given up (the guard's flush, or
    /// [`BudgetsHandle::flush`](super::BudgetsHandle::flush), writes it first).
    fn drop(&mut self) {
        self.shared.pending.abandoned.store(true, Ordering::Relaxed);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Writes the settlements, in order, as tasks of the store's thread.
struct Writer {
    link: Arc<Link>,
    timeout: Duration,
    max_accounts: u64,
    failures: Arc<StoreCounts>,
    seen: Arc<Seen>,
    pending: Arc<Pending>,
}

impl Writer {
    async fn run(self, mut queue: tokio::sync::mpsc::Receiver<Job>) {
        while let Some(job) = queue.recv().await {
            match job {
                Job::Flush(done) => {
                    let _ = done.send(());
                }
                Job::Write(write) => {
                    self.write(&write).await;
                    self.pending.change(&write, false);
                }
            }
        }
    }

    /// Tries `write` until Redis applies it (once: a retry of a write applied is a no-op),
    /// backing off up to a second between tries, or gives it up past [`GIVE_UP`].
    async fn write(&self, write: &Write) {
        let mut invocation = SETTLE_SCRIPT.prepare_invoke();
        invocation
            .arg(&write.id)
            .arg(self.max_accounts)
            .arg(REMEMBERED.as_millis() as u64);
        let now = write.now;
        for (account, units) in &write.accounts {
            let window = &account.window;
            for name in account.keys() {
                invocation.key(name);
            }
            invocation
                .arg(account.period.index)
                .arg(*units)
                .arg(ttl(window, account.period.ends, now))
                .arg(window.oldest_counted(window.period(now).index));
        }
        invocation.key(&write.marker);
        let mut backoff = Duration::from_millis(50);
        loop {
            if self.pending.abandoned.load(Ordering::Relaxed) {
                return;
            }
            let failure = match self
                .link
                .run::<Vec<String>>(&invocation, self.timeout)
                .await
            {
                Ok(spent) => {
                    self.saw(write, &spent, now);
                    return;
                }
                Err(failure) => failure,
            };
            if write.queued.elapsed() >= GIVE_UP {
                let lost = self.failures.debits.fetch_add(1, Ordering::Relaxed) + 1;
                if worth_a_warning(lost) {
                    tracing::warn!(
                        target: "tracing_ai",
                        parent: None,
                        "{lost} budget settlement(s) could not be written to Redis within {} \
                         minutes ({}); their spend is missing from the shared budgets",
                        GIVE_UP.as_secs() / 60,
                        failure.reason,
                    );
                }
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MOST_BACKOFF);
        }
    }

    /// Keeps what Redis answered each account spent, for the gauges.
    fn saw(&self, write: &Write, spent: &[String], now: SystemTime) {
        let flags = spent.get(write.accounts.len());
        for (index, ((account, _), spent)) in write.accounts.iter().zip(spent).enumerate() {
            let spend = SeenSpend {
                spent: spent.parse().unwrap_or(0),
                period: account.window.period(now).index,
            };
            if folded(flags, index) {
                self.seen.record(&account.key.other(), spend);
            } else {
                self.seen.record(&account.key, spend);
            }
        }
    }
}

/// The first failure, and then one in a thousand: a store that is down must not flood the log.
fn worth_a_warning(count: u64) -> bool {
    count == 1 || count.is_multiple_of(1_000)
}

/// `amount` in the store's units (10^-10), rounded; 0 for what is no amount.
fn units(amount: f64) -> i64 {
    let units = (amount * UNIT).round();
    if units.is_finite() && units >= 0.0 && units < i64::MAX as f64 {
        units as i64
    } else {
        0
    }
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// How long an account of `window` is kept after a write: past its period for a calendar
/// window; for a rolling one, as long as a cost written now can be counted (its buckets and
/// the one it is written in).
fn ttl(window: &Window, ends: SystemTime, now: SystemTime) -> u64 {
    match window {
        Window::Rolling(_) => (window.buckets() + 1) * window.bucket_secs() * 1_000,
        Window::Day | Window::Month => {
            ends.duration_since(now)
                .map_or(0, |left| left.as_millis() as u64)
                + GRACE_MS
        }
    }
}

/// `name`, with `window`'s period as of `now` when it is a calendar window.
fn with_period(mut name: String, window: &Window, now: SystemTime) -> String {
    if !matches!(window, Window::Rolling(_)) {
        let _ = write!(name, ":{}", window.period(now).index);
    }
    name
}

/// A scope value or budget name in a key: `:` and `%` escaped, so that keys cannot collide.
fn escape(text: &str) -> String {
    text.replace('%', "%25").replace(':', "%3A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_redis_answers_is_kept_only_for_gauges() {
        let budget = Budget::new("daily", 1.0, Window::Day).per(crate::budget::Scope::Tenant);
        let mut scope = CallScope::default();
        scope.set_scope(crate::budget::Scope::Tenant, &Arc::from("acme"));
        let key = budget.account(&scope).expect("covered");
        let now = SystemTime::now();
        let spend = SeenSpend {
            spent: 5 * UNIT as i64,
            period: Window::Day.period(now).index,
        };
        let seen = Seen::default();
        seen.record(&key, spend);
        assert!(seen.balances(std::slice::from_ref(&budget), now).is_empty());
        seen.wanted();
        seen.record(&key, spend);
        let balances = seen.balances(&[budget], now);
        assert_eq!(balances.len(), 1);
        assert_eq!(balances[0].spent, 5.0);
    }

    #[test]
    fn keys_cannot_collide_and_amounts_are_units() {
        assert_eq!(escape("a:b%c"), "a%3Ab%25c");
        assert_eq!(units(0.0012), 12_000_000);
        assert_eq!(units(f64::NAN), 0);
        assert_eq!(units(-1.0), 0);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let store = RedisBudgets::new("redis://user:hunter2@127.0.0.1:6379/").expect("a URL");
        let debug = format!("{store:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("127.0.0.1:6379"), "{debug}");
    }

    #[test]
    fn a_bad_url_says_what_to_write() {
        let error = RedisBudgets::new("http://user:secret@example.com").expect_err("not redis");
        let message = error.to_string();
        assert!(message.contains("redis://host:port/"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
}
