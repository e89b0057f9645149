//! What Redis runs and is given: the Lua scripts (one per step, each atomic across replicas),
//! the keys and ids they are given, the integer amounts they sum, and what their replies say.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use super::Shared;
use crate::budget::store::{Balance, MAX_ACCOUNTS};
use crate::budget::window::Period;
use crate::budget::AccountKey;
use crate::budget::{Budget, Window};

/// The finest amount kept in Redis: 10^-10 of the currency.
pub(super) const UNIT: f64 = 1e10;

/// A calendar account is kept this long past its window, for late settlements.
const GRACE_MS: u64 = 3_600_000;

/// The Lua both scripts that write an account start with: how long the account is kept.
macro_rules! kept_for {
    () => {
        r"
-- How long an account (and its reservations) is kept: its window's time to live after a write,
-- or until the latest lease of a call still holding part of it ends, if later: a call longer
-- than a rolling window keeps its hold.
local function kept_for(key, ttl, now)
  local fields = redis.call('HMGET', key, 'held', 'last')
  local held, last = tonumber(fields[1] or '0'), tonumber(fields[2] or '0')
  if held > 0 and last - now > ttl then
    return last - now
  end
  return ttl
end
"
    };
}

const RESERVE: &str = concat!(
    kept_for!(),
    r"
-- KEYS: for each account, five: its key, its reservations, its budget's `other` account and
-- that one's reservations, and the count of the budget's accounts (in the period); last, the
-- reservation's marker, set once it was settled or given back.
-- ARGV: id, now (ms), lease end (ms), the most accounts a budget has, then for each account:
-- oldest period counted, limit, amount, refuse (1 or 0), time to live (ms).
-- A new scope past the most goes to `other`: the answer's last item says which did ('1'). A
-- refusal says the account, what it used, which went to `other`, and the period whose leaving
-- makes room ('' when none can).
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
  local total, reserved, next_end, periods = 0, 0, nil, {}
  for j = 1, #fields, 2 do
    local field, value = fields[j], fields[j + 1]
    if string.sub(field, 1, 2) == 'b:' then
      local period = tonumber(string.sub(field, 3))
      if period < oldest then
        redis.call('HDEL', key, field)
      else
        total = total + tonumber(value)
        periods[#periods + 1] = {period, tonumber(value)}
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
    -- The period whose leaving the window makes room for the call, when spend leaving can
    -- (not when what calls in flight hold is in the way): for `retry_after`.
    local fits = ''
    if reserved + amount <= limit then
      table.sort(periods, function(a, b) return a[1] < b[1] end)
      local need, freed = total + amount - limit, 0
      for _, spent in ipairs(periods) do
        freed = freed + spent[2]
        if freed >= need then
          fits = string.format('%.0f', spent[1])
          break
        end
      end
    end
    return {'refused', tostring(i), string.format('%.0f', total), folded, fits}
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
  local last = tonumber(redis.call('HGET', key, 'last') or '0')
  if lease_end > last then
    redis.call('HSET', key, 'last', ARGV[3])
  end
  local kept = kept_for(key, tonumber(ARGV[base + 5]), now)
  redis.call('PEXPIRE', key, kept)
  redis.call('PEXPIRE', leases[i], kept)
end
local answer = {'reserved'}
for i = 1, #used do
  answer[#answer + 1] = string.format('%.0f', used[i])
end
answer[#answer + 1] = folded
return answer
",
);

const SETTLE: &str = concat!(
    kept_for!(),
    r"
-- Settles a reservation (gives back what it holds and adds the cost), debits a call that
-- reserved nothing, or gives back a reservation whose caller gave up (a cost of 0): once. Its
-- id's marker is set the first time, and a write that finds it set (a retry after a stall or
-- a reconnect, whose first try was applied) changes nothing.
-- KEYS: for each account, the five of RESERVE; last, the write's marker. ARGV: the id, the most
-- accounts a budget has, how long the marker is kept (ms), now (ms), then for each account: the
-- period, the cost (an integer, maybe 0), time to live (ms), oldest period counted. Returns what each
-- account spent in its window, every replica's settlements included, then which accounts went
-- to `other` ('1'), as RESERVE does; nothing when the write was applied before.
if not redis.call('SET', KEYS[#KEYS], '1', 'NX', 'PX', ARGV[3]) then
  return {}
end
local most = tonumber(ARGV[2])
local now = tonumber(ARGV[4])
local spent, folded = {}, ''
for i = 1, (#KEYS - 1) / 5 do
  local k = (i - 1) * 5
  local base = 4 + (i - 1) * 4
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
  local kept = kept_for(key, tonumber(ARGV[base + 3]), now)
  redis.call('PEXPIRE', key, kept)
  redis.call('PEXPIRE', held, kept)
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
",
);

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

/// An account in Redis: its key there and its reservations', and the budget's; the keys of
/// the budget's `other` account and of its count of accounts, for a scope that has none yet.
#[derive(Debug)]
pub(super) struct Account {
    name: String,
    held: String,
    other: String,
    other_held: String,
    count: String,
    pub(super) window: Window,
    /// The period (or rolling bucket) of the reservation or debit: its cost counts there, as
    /// in-process, however long the call took.
    pub(super) period: Period,
    pub(super) key: AccountKey,
}

impl Account {
    /// This account's scope went to the budget's `other` account (the script said so).
    pub(super) fn fold(&mut self) {
        std::mem::swap(&mut self.name, &mut self.other);
        std::mem::swap(&mut self.held, &mut self.other_held);
        self.key = self.key.other();
    }

    /// Its five keys, in the scripts' order.
    pub(super) fn keys(&self) -> [&str; 5] {
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
pub(super) fn folded(flags: Option<&String>, index: usize) -> bool {
    flags.and_then(|flags| flags.as_bytes().get(index)) == Some(&b'1')
}

/// What each account this replica settled in had spent, every replica's spend included, as
/// Redis answered the last settlement: what the gauges show.
#[derive(Debug, Default)]
pub(super) struct Seen {
    accounts: Mutex<HashMap<AccountKey, SeenSpend>>,
    /// Some gauge reads it: without metrics, nothing is kept.
    pub(super) wanted: AtomicBool,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct SeenSpend {
    /// In the store's units.
    pub(super) spent: i64,
    /// The window's period it was read in: a calendar account starts again at 0 past it.
    pub(super) period: u64,
}

impl Seen {
    /// Some gauge reads the accounts from now on: keep them.
    pub(super) fn wanted(&self) {
        self.wanted.store(true, Ordering::Relaxed);
    }

    pub(super) fn record(&self, key: &AccountKey, spend: SeenSpend) {
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
    pub(super) fn balances(&self, budgets: &[Budget], now: SystemTime) -> Vec<Balance> {
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

pub(super) static RESERVE_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(RESERVE));

pub(super) static SETTLE_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(SETTLE));

pub(super) static SPENT_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(SPENT));

impl Shared {
    /// An id no other write of any replica has: this process' and a counter.
    pub(super) fn next_id(&self) -> String {
        format!(
            "{:x}-{:x}",
            self.process,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The account of `key` in Redis, in `window` as of `now`.
    pub(super) fn key(&self, key: &AccountKey, window: &Window, now: SystemTime) -> String {
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
    pub(super) fn marker(&self, id: &str) -> String {
        format!("{}:#w:{id}", self.config.prefix)
    }

    /// `key`'s account with the keys the scripts need to open it (see [`Account`]).
    pub(super) fn account(&self, key: AccountKey, window: Window, now: SystemTime) -> Account {
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
}

/// `amount` in the store's units (10^-10), rounded; 0 for what is no amount.
pub(super) fn units(amount: f64) -> i64 {
    let units = (amount * UNIT).round();
    if units.is_finite() && units >= 0.0 && units < i64::MAX as f64 {
        units as i64
    } else {
        0
    }
}

pub(super) fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// How long an account of `window` is kept after a write: past its period for a calendar
/// window; for a rolling one, as long as a cost written now can be counted (its buckets and
/// the one it is written in).
pub(super) fn ttl(window: &Window, ends: SystemTime, now: SystemTime) -> u64 {
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
pub(super) fn escape(text: &str) -> String {
    text.replace('%', "%25").replace(':', "%3A")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::budget::{Budget, CallScope, Scope, Window};

    #[test]
    fn what_redis_answers_is_kept_only_for_gauges() {
        let budget = Budget::new("daily", 1.0, Window::Day).per(Scope::Tenant);
        let mut scope = CallScope::default();
        scope.set_scope(Scope::Tenant, &Arc::from("acme"));
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
}
