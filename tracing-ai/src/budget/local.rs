//! In-process budgets that survive a restart: the ledger's settled spend, also kept in a redb
//! file on local disk and read back when the next process builds its layer.
//!
//! Only spend is kept, never reservations: a call in flight when the process dies held room
//! it will never use, and the next process starts without it. Every settled call's cost goes
//! to a writer thread over a bounded queue (the call never waits for the disk), which commits
//! what it has as soon as it has it, in one redb transaction: a commit is atomic and durable
//! (redb writes copy-on-write pages and checksums them, and `fsync`s before it returns), so a
//! `kill -9` loses at most the costs of the calls that settled during the last commit (a few
//! milliseconds), and never leaves a file that does not open.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};

use super::ledger::{Ledger, SpendLog};
use super::store::{BudgetStore, OpenStore};
use super::window::epoch_secs;
use super::{Budget, BudgetError};
use crate::budget::AccountKey;

/// Account and period -> units (10^-22 of the budget's currency) spent, 16 bytes little-endian.
const SPENT: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("spent");

/// Costs waiting for the writer, at most: past it a cost is counted as lost, never waited for.
const QUEUE: usize = 65_536;

/// Budgets kept in this process, their spend also kept in a file on local disk so that a
/// restart (a deploy, a crash, a `kill -9`) does not start every budget from zero: give it to
/// [`AiLayerBuilder::with_local_budgets`](crate::AiLayerBuilder::with_local_budgets).
///
/// Without it the in-process ledger lasts as long as the process: a budget of $25 a day is
/// $25 per process per day, and $25 again after every restart. With it, the next process reads
/// what its budgets' current windows spent (matched by budget name, window and currency) when
/// its layer is built, and refuses where the day's spend, before the restart and after, reaches
/// the limit. Reservations are not kept: a call in flight at a crash is lost with it.
///
/// The file holds one small record per budget, scope and period (a day, a month, or a rolling
/// window's bucket); records of periods no budget counts any more are removed when the file is
/// opened. One process at a time: a second process opening the same file is an error (each
/// replica keeps its own; use `RedisBudgets` for budgets shared across replicas).
///
/// ```
/// use tracing_ai::budget::{Budget, LocalBudgets, Scope, Window};
/// use tracing_ai::AiLayer;
///
/// # let dir = std::env::temp_dir().join(format!("tracing-ai-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let layer = AiLayer::builder()
///     .with_budget(Budget::new("tenant-daily", 25.0, Window::Day).per(Scope::Tenant))
///     .with_local_budgets(LocalBudgets::new(dir.join("budgets.redb")))
///     .build()?;
/// # drop(layer);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), tracing_ai::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct LocalBudgets {
    path: PathBuf,
}

impl LocalBudgets {
    /// Keeps the spend in the file at `path` (created if missing, with its directory's
    /// permissions). Nothing is opened until the layer is built.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file the spend is kept in.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl OpenStore for LocalBudgets {
    /// The in-process ledger, with what the file says the budgets' current windows spent, and
    /// the file's writer behind it.
    fn open(
        &self,
        budgets: &[Budget],
        now: SystemTime,
    ) -> Result<Arc<dyn BudgetStore>, BudgetError> {
        let mut ledger = Ledger::default();
        let journal = Journal::open(self, budgets, now, &mut |_, key, index, units| {
            ledger.restore(key, index, units);
        })?;
        ledger.log = Some(Arc::new(journal));
        Ok(Arc::new(ledger))
    }
}

/// What the writer is handed, in order.
#[derive(Debug)]
enum Entry {
    Spend(Spend),
    /// Answered once every cost before it is in the file (or counted lost).
    Flush(SyncSender<()>),
}

/// One settled cost on its way to the file.
#[derive(Debug)]
pub(crate) struct Spend {
    key: String,
    units: i128,
}

/// The open file and its writer.
#[derive(Debug)]
pub(crate) struct Journal {
    /// Taken when the journal is dropped, which ends the writer once the queue is written.
    sender: Option<SyncSender<Entry>>,
    writer: Option<JoinHandle<()>>,
    /// Costs the file does not have: the queue was full, or a commit failed.
    pub(crate) lost: Arc<AtomicU64>,
    path: PathBuf,
}

/// A spend as the file keys it: the account (budget, window, currency, scope values) and the
/// period, as JSON (no separator can be confused with a value).
fn record_key(budget: &Budget, key: &AccountKey, period: u64) -> String {
    serde_json::json!([
        &*budget.name,
        budget.window.to_string(),
        &*budget.currency,
        key.scope
            .iter()
            .map(|value| value.as_deref())
            .collect::<Vec<_>>(),
        period,
    ])
    .to_string()
}

/// A record's key, read back: budget name, window, currency, scope values, period.
type RecordKey = (String, String, String, Vec<Option<String>>, u64);

fn parse_key(text: &str) -> Option<RecordKey> {
    serde_json::from_str(text).ok()
}

fn units_of(bytes: &[u8]) -> i128 {
    <[u8; 16]>::try_from(bytes).map_or(0, i128::from_le_bytes)
}

impl Journal {
    /// Opens (or creates) the file of `local`, hands every spend it holds that `budgets`
    /// still count at `now` to `restore` (budget, its account, the period, the units), and
    /// removes the records no budget counts any more.
    pub(crate) fn open(
        local: &LocalBudgets,
        budgets: &[Budget],
        now: SystemTime,
        restore: &mut dyn FnMut(&Budget, AccountKey, u64, i128),
    ) -> Result<Self, BudgetError> {
        let failed = |what: &str, error: &dyn std::fmt::Display| {
            BudgetError::new(format!(
                "the budgets file {} could not be {what} ({error}); give `LocalBudgets::new` a \
                 path in a writable directory that no other process of this service uses",
                local.path.display()
            ))
        };
        let database = Database::create(&local.path).map_err(|e| failed("opened", &e))?;
        let secs = epoch_secs(now);
        let mut stale = Vec::new();
        {
            let read = database.begin_read().map_err(|e| failed("read", &e))?;
            match read.open_table(SPENT) {
                Ok(table) => {
                    for row in table.iter().map_err(|e| failed("read", &e))? {
                        let (key, value) = row.map_err(|e| failed("read", &e))?;
                        let key = key.value().to_owned();
                        let counted = parse_key(&key).and_then(|parsed| {
                            let (name, window, currency, scope, period) = parsed;
                            let budget = budgets.iter().find(|budget| {
                                *budget.name == *name
                                    && budget.window.to_string() == window
                                    && *budget.currency == *currency
                            })?;
                            let oldest = budget.window.oldest_counted(budget.window.index_at(secs));
                            (period >= oldest).then_some((budget, scope, period))
                        });
                        match counted {
                            Some((budget, scope, period)) => {
                                let mut values: [Option<Arc<str>>; 5] = Default::default();
                                for (slot, value) in values.iter_mut().zip(scope) {
                                    *slot = value.map(Into::into);
                                }
                                let account = budget.account_key(values);
                                restore(budget, account, period, units_of(value.value()));
                            }
                            None => stale.push(key),
                        }
                    }
                }
                Err(redb::TableError::TableDoesNotExist(_)) => {}
                Err(error) => return Err(failed("read", &error)),
            }
        }
        // The table exists from the first open on, and what no budget counts is gone.
        let write = database.begin_write().map_err(|e| failed("written", &e))?;
        {
            let mut table = write.open_table(SPENT).map_err(|e| failed("written", &e))?;
            for key in &stale {
                table
                    .remove(key.as_str())
                    .map_err(|e| failed("written", &e))?;
            }
        }
        write.commit().map_err(|e| failed("written", &e))?;

        let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE);
        let lost = Arc::new(AtomicU64::new(0));
        let path = local.path.clone();
        let writer = std::thread::Builder::new()
            .name("tracing-ai-budgets-file".into())
            .spawn({
                let lost = lost.clone();
                move || write_all(&database, &receiver, &lost, &path)
            })
            .map_err(|e| failed("given a writer thread", &e))?;
        Ok(Self {
            sender: Some(sender),
            writer: Some(writer),
            lost,
            path: local.path.clone(),
        })
    }

    fn unflushed(&self) -> super::Unflushed {
        super::Unflushed::new(
            "settled costs".to_owned(),
            format!("the budgets file {}", self.path.display()),
            "the next process will not count them",
        )
    }
}

impl SpendLog for Journal {
    /// Waits until the costs handed over so far are in the file, at most `timeout`.
    fn flush(&self, timeout: std::time::Duration) -> Result<(), super::Unflushed> {
        let Some(sender) = &self.sender else {
            return Ok(());
        };
        let (done, flushed) = std::sync::mpsc::sync_channel(1);
        let deadline = std::time::Instant::now() + timeout;
        let mut entry = Entry::Flush(done);
        loop {
            match sender.try_send(entry) {
                Ok(()) => break,
                Err(TrySendError::Full(again)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    entry = again;
                }
                Err(_) => return Err(self.unflushed()),
            }
        }
        flushed
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .map_err(|_| self.unflushed())
    }

    fn record_key(&self, budget: &Budget, key: &AccountKey, period: u64) -> String {
        record_key(budget, key, period)
    }

    /// Hands a settled cost to the writer; never waits. A cost the queue has no room for is
    /// counted as lost.
    fn record(&self, key: String, units: i128) {
        let Some(sender) = &self.sender else {
            return;
        };
        match sender.try_send(Entry::Spend(Spend { key, units })) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                if self.lost.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(
                        target: "tracing_ai",
                        parent: None,
                        "the budgets file's writer is behind: a settled cost was not kept on \
                         disk (it still counts in this process)"
                    );
                }
            }
        }
    }
}

impl Drop for Journal {
    /// Writes what was handed over, and waits for it to be on disk: the layer (and every
    /// handle on its budgets) is gone.
    fn drop(&mut self) {
        // Closing the queue ends the writer once it has written everything before it.
        drop(self.sender.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The writer: as soon as a cost arrives, it and every cost queued behind it go into the file
/// in one transaction.
fn write_all(database: &Database, receiver: &Receiver<Entry>, lost: &AtomicU64, path: &Path) {
    let mut flushed = Vec::new();
    while let Ok(first) = receiver.recv() {
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(entry) = next.take() {
            match entry {
                Entry::Spend(spend) => batch.push(spend),
                Entry::Flush(done) => flushed.push(done),
            }
            if batch.len() < 4_096 {
                next = receiver.try_recv().ok();
            }
        }
        if let Err(error) = commit(database, &batch) {
            let before = lost.fetch_add(batch.len() as u64, Ordering::Relaxed);
            if before == 0 {
                tracing::warn!(
                    target: "tracing_ai",
                    parent: None,
                    "the budgets file {} could not be written ({error}): {} settled costs are \
                     not kept on disk (they still count in this process)",
                    path.display(),
                    batch.len()
                );
            }
        }
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
    }
}

fn commit(database: &Database, batch: &[Spend]) -> Result<(), redb::Error> {
    let write = database.begin_write()?;
    {
        let mut table = write.open_table(SPENT)?;
        for spend in batch {
            let before = table
                .get(spend.key.as_str())?
                .map_or(0, |value| units_of(value.value()));
            let after = before.saturating_add(spend.units).to_le_bytes();
            table.insert(spend.key.as_str(), after.as_slice())?;
        }
    }
    write.commit()?;
    Ok(())
}
