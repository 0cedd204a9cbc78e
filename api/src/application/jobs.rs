//! Background jobs run by exactly one server of those sharing a store (INTEGRATION.md 4):
//! the daily sweep, the monthly billing run, the NATS publisher and the webhook
//! deliverer. Each has a lease (a `leases` row: its name, its holder, when it expires, on
//! the database's clock): a server runs a job only while it holds the job's lease,
//! renewing it every third of its duration; a server that dies (SIGKILL, a lost machine)
//! stops renewing, and another takes the job over once the lease expires. A server
//! stopping gracefully gives its leases up at once.
//!
//! A lease makes a job run once; it does not have to make it correct. Every job is safe
//! to run twice (a second sweep for the same date records nothing, a repeated billing run
//! issues nothing new, the publisher's messages carry their position as `Nats-Msg-Id`, a
//! webhook delivery its id), so the moment two servers might both believe they hold one
//! (the old holder's clock running on while the database's lease expired) costs a repeat,
//! never a double count.
//!
//! SQLite needs no election: its store is a file on one machine, served by one server
//! (the embedded default). The same code runs there and the one server simply always
//! holds every lease; should two processes on that machine share the file, the same
//! `leases` rows elect one of them (the compare-and-set runs under SQLite's write lock).
//!
//! The scheduled jobs catch up: the holder runs the day's sweep once the day's time has
//! come and no sweep for the day has finished, so a sweep the previous holder did not
//! finish (or a server down at the time) is run by whoever holds the lease next, the same
//! day. The billing run likewise on the first of the month.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::application::commands::Ledger;
use crate::store::{LedgerEventRepository, StoreError};

/// The leases' names in `leases`.
pub const DAILY_SWEEP: &str = "daily-sweep";
pub const MONTHLY_BILLING: &str = "monthly-billing";
pub const NATS_PUBLISHER: &str = "nats-publisher";

/// How often a scheduled job's holder looks whether a run is due.
const SCHEDULE_POLL: Duration = Duration::from_secs(20);

/// A server's claim on one job's lease.
#[derive(Debug)]
pub struct JobLease {
    name: &'static str,
    holder: String,
    duration: Duration,
    valid_until: Mutex<Option<Instant>>,
}

impl JobLease {
    /// A claim on lease `name` for `holder` (a server's own id), lasting `duration`
    /// unrenewed.
    pub fn new(name: &'static str, holder: String, duration: Duration) -> Self {
        assert!(
            duration >= Duration::from_millis(300),
            "a lease shorter than its renewals"
        );
        Self {
            name,
            holder,
            duration,
            valid_until: Mutex::new(None),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Takes or renews the lease; whether this server holds it now. It counts as held
    /// until `duration` after the moment it was asked for (not answered), so this server
    /// stops before the database lets another take it.
    pub async fn renew(&self, repository: &LedgerEventRepository) -> Result<bool, StoreError> {
        let asked = Instant::now();
        let duration_ms = u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX);
        let held = repository
            .acquire_lease(self.name, &self.holder, duration_ms)
            .await?;
        *self.valid_until.lock().expect("the lease's lock") = held.then(|| asked + self.duration);
        Ok(held)
    }

    /// Whether this server may run the job now.
    pub fn holds(&self) -> bool {
        self.valid_until
            .lock()
            .expect("the lease's lock")
            .is_some_and(|until| Instant::now() < until)
    }

    /// Gives the lease up (the server is stopping).
    pub async fn release(&self, repository: &LedgerEventRepository) {
        *self.valid_until.lock().expect("the lease's lock") = None;
        if let Err(error) = repository.release_lease(self.name, &self.holder).await {
            tracing::warn!(%error, lease = self.name, "could not release a lease; it expires by itself");
        }
    }
}

/// Runs `job` on this server only while it holds `lease`: renews it every third of its
/// duration, starts the job (a fresh future from `job`) when it takes the lease, and
/// aborts it when the lease lapses (not renewed in time: the database unreachable, or
/// another server took it). Runs until aborted; aborted, it leaves the lease to expire.
pub async fn while_held<F, Fut>(repository: LedgerEventRepository, lease: Arc<JobLease>, mut job: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let renew_every = lease.duration() / 3;
    let mut running: Option<AbortOnDrop> = None;
    loop {
        let renewed = lease.renew(&repository).await;
        if let Err(error) = &renewed {
            tracing::warn!(%error, lease = lease.name(), "could not renew a lease; running only until it expires");
        }
        let holds = lease.holds();
        match (&running, holds) {
            (None, true) => {
                tracing::info!(
                    lease = lease.name(),
                    holder = lease.holder(),
                    "this server took the lease: it runs the job"
                );
                crate::metrics::lease_held(lease.name(), true);
                running = Some(AbortOnDrop(tokio::spawn(job())));
            }
            (Some(_), false) => {
                tracing::warn!(
                    lease = lease.name(),
                    "this server lost the lease: its job stops"
                );
                crate::metrics::lease_held(lease.name(), false);
                running = None;
            }
            (Some(task), true) if task.0.is_finished() => {
                // A job that ended by itself is started again while the lease is held.
                running = Some(AbortOnDrop(tokio::spawn(job())));
            }
            _ => {}
        }
        // Renewed every third of the lease: two renewals may fail before it lapses.
        tokio::time::sleep(renew_every).await;
    }
}

/// A job's task, aborted when dropped (the lease lost, the server stopping).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The daily sweep (§5.9 dunning), run by the holder of [`DAILY_SWEEP`]: once the day's
/// time `at` (Kazakhstan) has come and no sweep for the day has finished, it runs one as
/// of the day.
pub async fn daily_sweep(ledger: Arc<Ledger>, at: time::Time, charge_fines: bool) {
    run_when_due(ledger, at, ScheduledJob::DailySweep { charge_fines }).await
}

/// The monthly billing run (BILLING.md 4), run by the holder of [`MONTHLY_BILLING`]: on
/// the first of the month, once `at` (Kazakhstan) has come and no run for the month has
/// finished, it bills the month, issued that day. A run missed for a whole day is run by
/// hand (`edoc-ledger bill`): issuing a month's invoices on a later day is a decision.
pub async fn monthly_billing(ledger: Arc<Ledger>, at: time::Time) {
    run_when_due(ledger, at, ScheduledJob::MonthlyBilling).await
}

/// A job run at a time of day on the days it is due, once per key (the day's sweep, the
/// month's billing run).
enum ScheduledJob {
    DailySweep { charge_fines: bool },
    MonthlyBilling,
}

impl ScheduledJob {
    /// The key of today's run when one is due today (every day; the 1st of the month).
    fn due_on(&self, today: time::Date) -> Option<String> {
        match self {
            Self::DailySweep { .. } => Some(today.to_string()),
            Self::MonthlyBilling => {
                (today.day() == 1).then(|| events::CalendarMonth::of(today).to_string())
            }
        }
    }

    async fn finished(&self, ledger: &Ledger, key: &str) -> Result<bool, StoreError> {
        match self {
            Self::DailySweep { .. } => ledger.repository().sweep_finished_on(key).await,
            Self::MonthlyBilling => ledger.repository().billing_run_finished(key).await,
        }
    }

    /// Runs it as of `today`; the run logs what it did itself.
    async fn run(&self, ledger: &Arc<Ledger>, today: time::Date) -> Result<(), String> {
        match self {
            Self::DailySweep { charge_fines } => crate::application::sweep::run(
                ledger,
                "daily sweep",
                today,
                *charge_fines,
                |_, _| {},
            )
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
            Self::MonthlyBilling => crate::application::billing::run(
                ledger,
                "monthly billing run",
                events::CalendarMonth::of(today),
                today,
                |_, _| {},
            )
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::DailySweep { .. } => "daily sweep",
            Self::MonthlyBilling => "monthly billing run",
        }
    }
}

/// Looks every [`SCHEDULE_POLL`] (or at `at`, when sooner): once `at` (Kazakhstan) has
/// come on a day the job is due and the store says its run for the day's key has not
/// finished, runs it; a failure is logged and tried again at the next look.
async fn run_when_due(ledger: Arc<Ledger>, at: time::Time, job: ScheduledJob) {
    loop {
        let now = ledger.now_in_kazakhstan();
        let today = now.date();
        if let Some(key) = job.due_on(today).filter(|_| now.time() >= at) {
            match job.finished(&ledger, &key).await {
                Ok(true) => {}
                Ok(false) => {
                    if let Err(error) = job.run(&ledger, today).await {
                        tracing::error!(%error, %key, job = job.name(), "scheduled run failed");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, %key, job = job.name(), "could not read whether the run is done")
                }
            }
        }
        tokio::time::sleep(next_look(now, at)).await;
    }
}

/// How long to wait before looking again: [`SCHEDULE_POLL`], or less when `at` comes
/// sooner.
fn next_look(now: time::OffsetDateTime, at: time::Time) -> Duration {
    let until_at = at - now.time();
    if until_at > time::Duration::ZERO {
        Duration::try_from(until_at)
            .unwrap_or(SCHEDULE_POLL)
            .min(SCHEDULE_POLL)
    } else {
        SCHEDULE_POLL
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, time};

    #[test]
    fn the_schedule_looks_again_at_its_time_or_every_twenty_seconds() {
        let at = time!(00:30);
        assert_eq!(
            next_look(datetime!(2026-12-05 00:29:55 +5), at),
            Duration::from_secs(5)
        );
        assert_eq!(
            next_look(datetime!(2026-12-05 00:20:00 +5), at),
            SCHEDULE_POLL
        );
        assert_eq!(
            next_look(datetime!(2026-12-05 00:31:00 +5), at),
            SCHEDULE_POLL
        );
    }
}
