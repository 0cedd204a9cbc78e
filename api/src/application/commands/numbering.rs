//! The operator's one gapless series of invoice and credit-note numbers (BILLING.md 5.3)
//! within this process: a lock, and what a batch chunk handed on when it let go of it.
//!
//! A command that issues a document takes the lock, reads the next number from the store
//! and holds the lock until its append (which claims the number by compare-and-set)
//! commits. A chunk of the batched write path (the billing run) holds it only while it
//! decides and seals: it then hands on the number after its last, with a signal of its
//! commit, and lets go; the next chunk numbers on from there while the first one is still
//! writing, and appends only once that one has committed, so the store's series still
//! grows in order and without a gap. A chunk that fails (a lost race, a month closed
//! meanwhile) signals so by dropping its [`CommitSignal`]: every chunk numbered after it
//! then fails too, and all of them are recorded one command at a time. A command (or a
//! chunk) that finds a handed-on number whose chunk has finished reads the store again.
//! Across processes the counter's compare-and-set alone keeps the numbers unique and
//! gapless, as before.

use tokio::sync::{watch, Mutex, MutexGuard};

use events::InvoiceNumber;

/// The lock of the series, and what the last chunk to hold it handed on.
#[derive(Default)]
pub(super) struct InvoiceNumbering {
    handed_on: Mutex<Option<HandedOn>>,
}

/// Numbers a chunk took and has not yet committed (or failed to): the next one after
/// them, and the signal of its commit (`Some(true)`: committed; closed unsent: failed).
pub(super) struct HandedOn {
    next: InvoiceNumber,
    committed: watch::Receiver<Option<bool>>,
}

/// Held by a chunk while it numbers its documents.
pub(super) type NumberingTurn<'a> = MutexGuard<'a, Option<HandedOn>>;

/// The chunk's promise to say whether its numbers committed; dropped unsent, it says
/// they did not.
pub(super) struct CommitSignal(watch::Sender<Option<bool>>);

/// The commit a chunk numbered after: it must be in before the chunk appends.
pub(super) struct Predecessor(watch::Receiver<Option<bool>>);

impl InvoiceNumbering {
    /// The lock for a single command: once held, nothing handed on is still being
    /// written (it waits for that), so the store's next number is the one to take.
    pub(super) async fn settled(&self) -> MutexGuard<'_, Option<HandedOn>> {
        let mut turn = self.handed_on.lock().await;
        if let Some(handed_on) = turn.as_ref() {
            // Committed or failed alike: the store then says which number is next. The
            // record stays until the wait is over, so a command dropped while it waits
            // (a request timed out) leaves it for the next one.
            let writing = Predecessor(handed_on.committed.clone());
            let _ = writing.committed().await;
        }
        *turn = None;
        turn
    }

    /// The lock for a batch chunk, and, when a chunk before it handed on numbers it is
    /// still writing, the next of them with that chunk's commit to wait for (`None`:
    /// read the store's next number).
    pub(super) async fn turn(&self) -> (NumberingTurn<'_>, Option<(InvoiceNumber, Predecessor)>) {
        let mut turn = self.handed_on.lock().await;
        let pending = match turn.as_ref() {
            Some(handed_on) if !handed_on.finished() => {
                Some((handed_on.next, Predecessor(handed_on.committed.clone())))
            }
            _ => None,
        };
        if pending.is_none() {
            *turn = None;
        }
        (turn, pending)
    }
}

impl HandedOn {
    fn finished(&self) -> bool {
        self.committed.borrow().is_some() || self.committed.has_changed().is_err()
    }
}

/// Lets go of the lock, handing on `next` (the number after the chunk's last) until the
/// returned signal says whether the chunk's numbers committed.
pub(super) fn hand_on(mut turn: NumberingTurn<'_>, next: InvoiceNumber) -> CommitSignal {
    let (sender, committed) = watch::channel(None);
    *turn = Some(HandedOn { next, committed });
    CommitSignal(sender)
}

impl CommitSignal {
    /// The chunk's numbers are in the store.
    pub(super) fn committed(self) {
        let _ = self.0.send(Some(true));
    }
}

impl Predecessor {
    /// Waits for the chunk numbered before: `true` once its numbers are committed,
    /// `false` if it failed (then numbers after it cannot be claimed).
    pub(super) async fn committed(mut self) -> bool {
        matches!(
            self.0.wait_for(Option::is_some).await.map(|value| *value),
            Ok(Some(true))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(n: u64) -> InvoiceNumber {
        InvoiceNumber::new(n).expect("a valid number")
    }

    #[tokio::test]
    async fn a_chunk_numbers_on_from_one_still_writing_and_waits_for_its_commit() {
        let numbering = InvoiceNumbering::default();
        let (turn, pending) = numbering.turn().await;
        assert!(pending.is_none(), "nothing handed on: read the store");
        let first = hand_on(turn, number(11));

        let (turn, pending) = numbering.turn().await;
        let (next, predecessor) = pending.expect("the first chunk is still writing");
        assert_eq!(next, number(11));
        let second = hand_on(turn, number(21));

        first.committed();
        assert!(predecessor.committed().await);
        // A single command waits for the second chunk before reading the store.
        let waiting = tokio::spawn(async move {
            let settled = numbering.settled().await;
            assert!(settled.is_none());
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the second chunk is still writing");
        second.committed();
        waiting.await.expect("the command got the lock");
    }

    #[tokio::test]
    async fn a_command_dropped_while_it_waits_leaves_the_handed_on_numbers() {
        let numbering = InvoiceNumbering::default();
        let (turn, _) = numbering.turn().await;
        let writing = hand_on(turn, number(31));
        let timed_out =
            tokio::time::timeout(std::time::Duration::from_millis(10), numbering.settled()).await;
        assert!(timed_out.is_err(), "the chunk is still writing");
        let (_, pending) = numbering.turn().await;
        let (next, _) = pending.expect("still handed on after the command gave up");
        assert_eq!(next, number(31));
        writing.committed();
    }

    #[tokio::test]
    async fn a_failed_chunk_fails_every_chunk_numbered_after_it() {
        let numbering = InvoiceNumbering::default();
        let (turn, _) = numbering.turn().await;
        let first = hand_on(turn, number(5));
        let (turn, pending) = numbering.turn().await;
        let (_, predecessor) = pending.expect("handed on");
        drop(turn);
        drop(first);
        assert!(
            !predecessor.committed().await,
            "a dropped signal is a failure"
        );
        // Once it failed, the next chunk reads the store again.
        let (_, pending) = numbering.turn().await;
        assert!(pending.is_none());
    }
}
