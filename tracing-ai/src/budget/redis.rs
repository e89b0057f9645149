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
//! A reservation is one round trip, with a bounded timeout; what the store cannot answer in
//! time follows the [`OnStoreFailure`] policy, counted and logged. Settling and debiting go
//! through a queue to a thread of their own, so that closing a span never waits on Redis; a
//! debit that cannot be written after retries, or finds the queue full, is counted and logged.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::ledger::{AccountKey, Balance, Passed, Reservation, MAX_ACCOUNTS};
use super::window::Period;
use super::{Budget, BudgetError, BudgetExceeded, CallScope, OnLimit, Window};

/// The finest amount kept in Redis: 10^-10 of the currency.
const UNIT: f64 = 1e10;
/// Debits waiting for the thread that writes them; past it, a debit is counted lost.
const QUEUE: usize = 10_000;
/// A calendar account is kept this long past its window, for late settlements.
const GRACE_MS: u64 = 3_600_000;

const RESERVE: &str = r"
-- KEYS: for each account, five: its key, its reservations, its budget's `other` account and
-- that one's reservations, and the count of the budget's accounts (in the period).
-- ARGV: id, now (ms), lease end (ms), the most accounts a budget has, then for each account:
-- oldest period counted, limit, amount, refuse (1 or 0), time to live (ms).
-- A new scope past the most goes to `other`: the answer's last item says which did ('1').
local now = tonumber(ARGV[2])
local most = tonumber(ARGV[4])
local used, chosen, leases, new, folded = {}, {}, {}, {}, ''
for i = 1, #KEYS / 5 do
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
-- KEYS: for each account, the five of RESERVE. ARGV: the reservation's id (empty for a
-- debit), the most accounts a budget has, then for each account: the period, the cost (an
-- integer, maybe 0), time to live (ms), oldest period counted. Returns what each account
-- spent in its window, every replica's settlements included, then which accounts went to
-- `other` ('1'), as RESERVE does.
local most = tonumber(ARGV[2])
local spent, folded = {}, ''
for i = 1, #KEYS / 5 do
  local k = (i - 1) * 5
  local base = 2 + (i - 1) * 4
  local key, held = KEYS[k + 1], KEYS[k + 2]
  if ARGV[1] ~= '' then
    -- Given back once: a lease that ended gave it back already.
    local hold = redis.call('HGET', held, ARGV[1])
    if hold then
      redis.call('HDEL', held, ARGV[1])
      local amount = string.sub(hold, 1, string.find(hold, ':', 1, true) - 1)
      -- Not '-0': Redis takes it for no integer.
      if amount ~= '0' then
        redis.call('HINCRBY', key, 'held', '-' .. amount)
      end
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
    /// The call is refused: it returns [`BudgetExceeded`] for which
    /// [`is_store_failure`](BudgetExceeded::is_store_failure) is true, and its span says
    /// `error.type = budget_unavailable`.
    Closed,
}

/// Budgets kept in Redis, shared by every replica that uses the same server and prefix (feature
/// `redis`): give it to [`AiLayerBuilder::with_budget_store`](crate::AiLayerBuilder::with_budget_store).
///
/// One Redis server, not Redis Cluster: a reservation is one script over the keys of every
/// budget and scope the call is in, which Cluster refuses when they are in several slots.
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
        let client = redis::Client::open(url).map_err(|error| {
            BudgetError::new(format!(
                "{} is not a Redis URL ({error}); write redis://host:port/ (or rediss:// with TLS, \
                 which this build does not have)",
                crate::redact::endpoint(url)
            ))
        })?;
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

    /// How long a reservation waits on Redis (to connect, to send, to read the answer) before
    /// the failure policy applies.
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
    /// an account takes about 200 bytes of Redis memory.
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
pub(crate) struct RemoteHold {
    id: String,
    accounts: Vec<(Account, Arc<str>)>,
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

enum Write {
    /// Settles a reservation (`id`), or debits a call that reserved nothing (no id): the cost
    /// of each account, in units.
    Settle {
        id: String,
        accounts: Vec<(Account, i64)>,
    },
}

/// What each account this replica settled in had spent, every replica's spend included, as
/// Redis answered the last settlement: what the gauges show.
#[derive(Debug, Default)]
pub(crate) struct Seen {
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
    pub(crate) fn wanted(&self) {
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
    pub(crate) fn balances(&self, budgets: &[Budget], now: SystemTime) -> Vec<Balance> {
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

/// The live store: connections for reservations, and the queue of settlements.
pub(crate) struct RedisStore {
    config: RedisBudgets,
    connections: Mutex<Vec<redis::Connection>>,
    reserve: redis::Script,
    spent: redis::Script,
    writes: SyncSender<Write>,
    next_id: AtomicU64,
    process: u64,
    pub(crate) failures: Arc<StoreCounts>,
    pub(crate) seen: Arc<Seen>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Write")
    }
}

/// What went wrong with the store, counted (`ai.budget.store_failures`).
#[derive(Debug, Default)]
pub(crate) struct StoreCounts {
    /// Reservations the store did not answer in time; the policy applied.
    pub(crate) reservations: AtomicU64,
    /// Debits that could not be written (after retries, or the queue was full).
    pub(crate) debits: AtomicU64,
}

impl RedisStore {
    pub(crate) fn start(config: RedisBudgets) -> Self {
        let (writes, queue) = sync_channel(QUEUE);
        let failures = Arc::new(StoreCounts::default());
        let seen = Arc::new(Seen::default());
        let worker = Worker {
            client: config.client.clone(),
            timeout: config.timeout.max(Duration::from_millis(500)),
            max_accounts: config.max_accounts,
            script: redis::Script::new(SETTLE),
            failures: failures.clone(),
            seen: seen.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("tracing-ai-budgets".to_owned())
            .spawn(move || worker.run(queue));
        if let Err(error) = spawned {
            tracing::warn!(
                target: "tracing_ai",
                parent: None,
                "budget debits cannot be written to Redis: no thread could be started ({error})"
            );
        }
        let process = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |now| now.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32);
        Self {
            config,
            connections: Mutex::new(Vec::new()),
            reserve: redis::Script::new(RESERVE),
            spent: redis::Script::new(SPENT),
            writes,
            next_id: AtomicU64::new(0),
            process,
            failures,
            seen,
        }
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

    /// Reserves as [`Ledger::reserve`](super::Ledger::reserve) does, in Redis; `Ok` with no
    /// hold (and the failure counted and logged) when Redis did not answer and the policy is
    /// open.
    pub(crate) fn reserve(
        &self,
        budgets: &[Budget],
        scope: &CallScope,
        estimate: &mut dyn FnMut(&Budget) -> f64,
        now: SystemTime,
    ) -> Result<(Reservation, Vec<Passed>), BudgetExceeded> {
        let covering: Vec<(&Budget, AccountKey, f64)> = budgets
            .iter()
            .filter_map(|budget| {
                let key = budget.account(scope)?;
                Some((budget, key, estimate(budget)))
            })
            .collect();
        if covering.is_empty() {
            return Ok((Reservation::default(), Vec::new()));
        }
        let id = format!(
            "{:x}-{:x}",
            self.process,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let now_ms = millis(now);
        let mut invocation = self.reserve.prepare_invoke();
        invocation
            .arg(&id)
            .arg(now_ms)
            .arg(now_ms + self.config.lease.as_millis() as u64)
            .arg(self.config.max_accounts);
        let mut accounts = Vec::with_capacity(covering.len());
        for (budget, key, amount) in &covering {
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
        let answer: Result<Vec<String>, redis::RedisError> =
            self.with_connection(|connection| invocation.invoke(connection));
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => return self.failed(&covering, &error, now),
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
                Err(budget.exceeded(
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
                let reservation = Reservation::remote(RemoteHold { id, accounts });
                Ok((reservation, passed))
            }
        }
    }

    fn failed(
        &self,
        covering: &[(&Budget, AccountKey, f64)],
        error: &redis::RedisError,
        now: SystemTime,
    ) -> Result<(Reservation, Vec<Passed>), BudgetExceeded> {
        let count = self.failures.reservations.fetch_add(1, Ordering::Relaxed) + 1;
        if worth_a_warning(count) {
            tracing::warn!(
                target: "tracing_ai",
                parent: None,
                "the budget store did not answer ({error}); {count} reservation(s) so far {}",
                match self.config.on_failure {
                    OnStoreFailure::Open => "went ahead without a budget check (fail-open)",
                    OnStoreFailure::Closed => "were refused (fail-closed)",
                }
            );
        }
        match self.config.on_failure {
            OnStoreFailure::Open => Ok((Reservation::default(), Vec::new())),
            OnStoreFailure::Closed => {
                let (budget, key, amount) = &covering[0];
                let mut refused = budget.exceeded(key, 0.0, *amount, now);
                refused.0.store_failure = Some(error.to_string().into());
                Err(refused)
            }
        }
    }

    /// Queues the settlement of `hold` with what the call cost.
    pub(crate) fn settle(
        &self,
        hold: RemoteHold,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) {
        let accounts = hold
            .accounts
            .into_iter()
            .map(|(account, currency)| {
                let units = cost(&currency).map_or(0, units);
                (account, units)
            })
            .collect();
        self.write(
            Write::Settle {
                id: hold.id,
                accounts,
            },
            now,
        );
    }

    /// Queues the debit of a call that reserved nothing.
    pub(crate) fn debit(
        &self,
        budgets: &[Budget],
        scope: &CallScope,
        cost: &dyn Fn(&str) -> Option<f64>,
        now: SystemTime,
    ) {
        let accounts: Vec<(Account, i64)> = budgets
            .iter()
            .filter_map(|budget| {
                let key = budget.account(scope)?;
                let units = cost(&budget.currency).map(units)?;
                Some((self.account(key, budget.window, now), units))
            })
            .collect();
        if !accounts.is_empty() {
            self.write(
                Write::Settle {
                    id: String::new(),
                    accounts,
                },
                now,
            );
        }
    }

    fn write(&self, write: Write, _now: SystemTime) {
        match self.writes.try_send(write) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                let lost = self.failures.debits.fetch_add(1, Ordering::Relaxed) + 1;
                if worth_a_warning(lost) {
                    tracing::warn!(
                        target: "tracing_ai",
                        parent: None,
                        "{lost} budget debit(s) could not be queued for Redis (the store is behind); their spend is missing from the shared budgets"
                    );
                }
            }
        }
    }

    /// What the account of `key` spent in `budget`'s window, read from Redis.
    pub(crate) fn spent(&self, budget: &Budget, key: &AccountKey) -> Option<f64> {
        let now = SystemTime::now();
        let name = self.key(key, &budget.window, now);
        let oldest = budget
            .window
            .oldest_counted(budget.window.period(now).index);
        let mut invocation = self.spent.prepare_invoke();
        invocation.key(&name).arg(oldest);
        let answer: Result<String, redis::RedisError> =
            self.with_connection(|connection| invocation.invoke(connection));
        answer
            .ok()
            .and_then(|text| text.parse::<f64>().ok())
            .map(|units| crate::money::round_money(units / UNIT))
    }

    /// Runs `f` on a pooled connection (made, with the timeouts, when none is free); a
    /// connection that failed is dropped.
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let pooled = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => connect(&self.config.client, self.config.timeout)?,
        };
        let result = f(&mut connection);
        if result.is_ok() {
            self.connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(connection);
        }
        result
    }
}

fn connect(client: &redis::Client, timeout: Duration) -> redis::RedisResult<redis::Connection> {
    let connection = client.get_connection_with_timeout(timeout)?;
    connection.set_read_timeout(Some(timeout))?;
    connection.set_write_timeout(Some(timeout))?;
    Ok(connection)
}

/// Writes the settlements, in order, on a thread of its own.
struct Worker {
    client: redis::Client,
    timeout: Duration,
    script: redis::Script,
    max_accounts: u64,
    failures: Arc<StoreCounts>,
    seen: Arc<Seen>,
}

impl Worker {
    fn run(self, queue: Receiver<Write>) {
        let mut connection = None;
        for write in queue {
            let Write::Settle { id, accounts } = write;
            let mut invocation = self.script.prepare_invoke();
            invocation.arg(&id).arg(self.max_accounts);
            let now = SystemTime::now();
            for (account, units) in &accounts {
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
            // A few tries, a moment apart: a restarting Redis takes the debit a second later.
            let mut written = false;
            let mut last_error = None;
            for attempt in 0..3 {
                if attempt > 0 {
                    std::thread::sleep(Duration::from_millis(200 * attempt));
                }
                let connected = match connection.take() {
                    Some(connected) => Ok(connected),
                    None => connect(&self.client, self.timeout),
                };
                let mut connected = match connected {
                    Ok(connected) => connected,
                    Err(error) => {
                        last_error = Some(error);
                        continue;
                    }
                };
                match invocation.invoke::<Vec<String>>(&mut connected) {
                    Ok(spent) => {
                        connection = Some(connected);
                        written = true;
                        let flags = spent.get(accounts.len());
                        for (index, ((account, _), spent)) in
                            accounts.iter().zip(&spent).enumerate()
                        {
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
                        break;
                    }
                    Err(error) => last_error = Some(error),
                }
            }
            if !written {
                let lost = self.failures.debits.fetch_add(1, Ordering::Relaxed) + 1;
                if worth_a_warning(lost) {
                    tracing::warn!(
                        target: "tracing_ai",
                        parent: None,
                        "{lost} budget debit(s) could not be written to Redis ({}); their spend is missing from the shared budgets",
                        last_error.map_or_else(String::new, |error| error.to_string())
                    );
                }
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
