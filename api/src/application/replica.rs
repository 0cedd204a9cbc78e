//! Reads from a streaming replica (INTEGRATION.md 4, `--read-database-url`): the queries
//! of an agreement and the reports read a replica of the store, never older than the
//! position a client says it saw (`Edoc-Min-Position`: its own last write's, answered
//! as `Edoc-Position`, or an event's from the feed or a webhook). The server waits up to
//! a bound for the replica to replay that position, then reads the primary instead.
//!
//! "Replayed" is exact: the replica holds the event at that position, and with it every
//! transaction committed before it (a replica replays commits in order). A position that
//! is a hole (a transaction that drew it and rolled back) is never replayed: the read
//! waits the bound and goes to the primary, slower but never stale.

use std::sync::Arc;
use std::time::{Duration, Instant};

use events::ParticipantId;

use super::commands::Ledger;
use crate::store::StoreError;

/// How often the replica is asked whether it has replayed a position, while waiting.
const POLL: Duration = Duration::from_millis(10);
/// The longest wait a server may be configured with.
pub const READ_WAIT_MAX: Duration = Duration::from_secs(30);

/// How long reads go to the primary after the replica failed one.
pub const SET_ASIDE: Duration = Duration::from_secs(5);

/// The replica and how long a read waits for it.
pub struct ReadReplica {
    pub ledger: Arc<Ledger>,
    pub wait: Duration,
    /// Until when the replica is set aside (it failed a read): reads go to the primary.
    set_aside_until: std::sync::Mutex<Option<Instant>>,
}

/// Where a read was served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    Replica,
    Primary,
}

impl ReadFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Replica => "replica",
            Self::Primary => "primary",
        }
    }
}

/// The ledger a read uses, where it is, and how long choosing it waited.
pub struct ChosenReader {
    pub ledger: Arc<Ledger>,
    pub from: ReadFrom,
    pub waited: Duration,
}

impl ReadReplica {
    pub fn new(ledger: Arc<Ledger>, wait: Duration) -> Self {
        Self {
            ledger,
            wait: wait.min(READ_WAIT_MAX),
            set_aside_until: std::sync::Mutex::new(None),
        }
    }

    /// The replica failed a read (answered 503): reads go to the primary for
    /// [`SET_ASIDE`], then try the replica again.
    pub fn failed(&self) {
        tracing::warn!("the read replica failed a read; reading the primary for the next 5 s");
        *self.set_aside_until.lock().expect("the replica's lock") =
            Some(Instant::now() + SET_ASIDE);
    }

    fn set_aside(&self) -> bool {
        self.set_aside_until
            .lock()
            .expect("the replica's lock")
            .is_some_and(|until| Instant::now() < until)
    }

    /// The ledger to read from for a client that saw `min_position`: the replica once it
    /// has replayed it (at once without one), waiting up to `wait`; else the primary
    /// (the wait over, the replica failing, or set aside after a failure).
    pub async fn choose(&self, primary: &Arc<Ledger>, min_position: Option<i64>) -> ChosenReader {
        let started = Instant::now();
        if self.set_aside() {
            return ChosenReader {
                ledger: primary.clone(),
                from: ReadFrom::Primary,
                waited: Duration::ZERO,
            };
        }
        let Some(position) = min_position else {
            return ChosenReader {
                ledger: self.ledger.clone(),
                from: ReadFrom::Replica,
                waited: Duration::ZERO,
            };
        };
        let deadline = started + self.wait;
        loop {
            match self.ledger.repository().has_position(position).await {
                Ok(true) => {
                    return ChosenReader {
                        ledger: self.ledger.clone(),
                        from: ReadFrom::Replica,
                        waited: started.elapsed(),
                    }
                }
                Ok(false) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    tokio::time::sleep(POLL.min(deadline - now)).await;
                }
                Err(error) => {
                    tracing::warn!(%error, "the read replica failed; reading the primary");
                    self.failed();
                    break;
                }
            }
        }
        ChosenReader {
            ledger: primary.clone(),
            from: ReadFrom::Primary,
            waited: started.elapsed(),
        }
    }
}

/// The position a client that just wrote must see to read its write: its agreement's
/// last event's, or for a write outside an agreement the store's last position.
pub async fn write_position(
    ledger: &Ledger,
    participant: Option<&ParticipantId>,
) -> Result<i64, StoreError> {
    let repository = ledger.repository();
    match participant {
        Some(id) => Ok(repository
            .stream_head(crate::application::export::AGGREGATE_TYPE, id.as_str())
            .await?
            .unwrap_or(0)),
        None => repository.feed_head().await,
    }
}
