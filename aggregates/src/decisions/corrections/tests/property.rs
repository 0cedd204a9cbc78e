//! Random histories of invoices, payments (some recorded late), reversals, refunds,
//! voids, credit notes, charges, terminations and sweeps: after every command the
//! agreement keeps its books (BILLING.md 5.1-5.3).
//!
//! The money identity checked, from the events on one side and the state on the other:
//!
//! ```text
//! received - reversed - refunded
//!     = sum over invoices of (principal + penalty + fine paid) + advance held
//! ```
//!
//! Every other movement moves money between the two terms on the right and must keep
//! the sum: an advance applied (advance -> paid), a charge withdrawn with what paid it
//! (`moved_to_advance`: paid -> advance), a credit note beyond what was outstanding
//! (`to_advance`: principal paid -> advance), a reversal (its amount leaves the paid
//! money it still settles, the advance held and the settlements by advance it undoes).

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::late_payment::PENALTY_CAP_RATE;

const TODAY: Date = date!(2026 - 12 - 31);
const FIRST_DAY: Date = date!(2026 - 02 - 02);
const REGISTERED_ON: Date = date!(2026 - 01 - 05);

#[derive(Debug, Clone)]
enum Op {
    /// The business date moves on by this many days.
    Wait(u8),
    Invoice {
        cents: u32,
    },
    /// Received `late_days` before the current date (recorded late when positive),
    /// naming an invoice when `named` is given.
    Pay {
        cents: u32,
        late_days: u8,
        named: Option<u8>,
    },
    Reverse {
        pick: u8,
    },
    /// Of the advance held (`all_of_it`), or of an amount; or the last refund again.
    Refund {
        cents: u32,
        all_of_it: bool,
        repeat: bool,
    },
    Void {
        pick: u8,
    },
    /// `percent` of the net still creditable (over 100: beyond it).
    Credit {
        pick: u8,
        percent: u8,
        by_lines: bool,
    },
    Charge {
        pick: u8,
        fine: bool,
    },
    Waive {
        pick: u8,
        cents: u32,
        fine: bool,
    },
    Sweep {
        fines: bool,
    },
    Terminate {
        after_days: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (1u8..30).prop_map(Op::Wait),
        9 => (1u32..2_000_000).prop_map(|cents| Op::Invoice { cents }),
        15 => (
            prop_oneof![2 => 1u32..1_000_000, 1 => 1_000_000u32..3_000_000],
            prop_oneof![3 => Just(0u8), 2 => 1u8..45],
            proptest::option::weighted(0.3, any::<u8>()),
        )
            .prop_map(|(cents, late_days, named)| Op::Pay { cents, late_days, named }),
        9 => any::<u8>().prop_map(|pick| Op::Reverse { pick }),
        6 => (1u32..1_000_000, any::<bool>(), proptest::bool::weighted(0.2))
            .prop_map(|(cents, all_of_it, repeat)| Op::Refund { cents, all_of_it, repeat }),
        3 => any::<u8>().prop_map(|pick| Op::Void { pick }),
        9 => (any::<u8>(), 1u8..=110, any::<bool>())
            .prop_map(|(pick, percent, by_lines)| Op::Credit { pick, percent, by_lines }),
        6 => (any::<u8>(), any::<bool>()).prop_map(|(pick, fine)| Op::Charge { pick, fine }),
        3 => (any::<u8>(), 1u32..20_000, any::<bool>())
            .prop_map(|(pick, cents, fine)| Op::Waive { pick, cents, fine }),
        9 => any::<bool>().prop_map(|fines| Op::Sweep { fines }),
        1 => (0u8..20).prop_map(|after_days| Op::Terminate { after_days }),
    ]
}

fn amount(cents: u64) -> Amount {
    Amount::new(Decimal::new(i64::try_from(cents).unwrap(), 2)).unwrap()
}

fn cents_of(money: Money) -> u64 {
    u64::try_from((money.amount() * Decimal::ONE_HUNDRED).trunc().mantissa()).unwrap_or(0)
}

/// One random history, run command by command.
struct Run {
    events: Vec<AgreementEvent>,
    live: ParticipantAgreement,
    on: Date,
    payments: Vec<String>,
    refunds: Vec<(String, Amount, Date)>,
    counter: u32,
}

impl Run {
    fn new() -> Self {
        let events = with_invoice();
        let live = state_of(&events);
        Self {
            events,
            live,
            on: FIRST_DAY,
            payments: Vec::new(),
            refunds: Vec::new(),
            counter: 0,
        }
    }

    fn pick_invoice(&self, pick: u8) -> InvoiceNumber {
        let numbers: Vec<InvoiceNumber> = self.live.invoices().map(|i| i.number).collect();
        numbers[usize::from(pick) % numbers.len()]
    }

    fn command(&mut self, op: &Op) -> Option<AgreementCommand> {
        self.counter += 1;
        let on = self.on;
        Some(match *op {
            Op::Wait(days) => {
                self.on = (self.on + time::Duration::days(i64::from(days))).min(TODAY);
                return None;
            }
            Op::Invoice { cents } => AgreementCommand::IssueInvoice(IssueInvoice {
                kind: InvoiceKind::Credit,
                issued_on: on,
                lines: vec![InvoiceLineRequest {
                    description: LineDescription::parse("Services").unwrap(),
                    quantity: Quantity::parse("1").unwrap(),
                    unit_price: amount(u64::from(cents)),
                }],
                period: None,
            }),
            Op::Pay {
                cents,
                late_days,
                named,
            } => {
                let reference = format!("P-{}", self.counter);
                self.payments.push(reference.clone());
                let received_on =
                    (on - time::Duration::days(i64::from(late_days))).max(REGISTERED_ON);
                AgreementCommand::ReceivePayment(ReceivePayment {
                    reference: reference_of(&reference),
                    received_on,
                    amount: amount(u64::from(cents)),
                    currency: None,
                    invoice_number: named.map(|pick| self.pick_invoice(pick)),
                })
            }
            Op::Reverse { pick } => {
                let reference = if self.payments.is_empty() {
                    "P-NONE".to_owned()
                } else {
                    self.payments[usize::from(pick) % self.payments.len()].clone()
                };
                reverse(&reference, on)
            }
            Op::Refund {
                cents,
                all_of_it,
                repeat,
            } => {
                let (reference, amount, date) = match self.refunds.last() {
                    Some(last) if repeat => last.clone(),
                    _ => {
                        let held = self.live.advance().map_or(0, cents_of);
                        let amount = amount(if all_of_it { held } else { u64::from(cents) });
                        let refund = (format!("R-{}", self.counter), amount, on);
                        self.refunds.push(refund.clone());
                        refund
                    }
                };
                AgreementCommand::RefundAdvance(RefundAdvance {
                    reference: reference_of(&reference),
                    on: date,
                    amount,
                    reason: note(),
                })
            }
            Op::Void { pick } => AgreementCommand::VoidInvoice(VoidInvoice {
                number: self.pick_invoice(pick),
                on,
                reason: note(),
            }),
            Op::Credit {
                pick,
                percent,
                by_lines,
            } => {
                let number = self.pick_invoice(pick);
                let creditable = self.live.invoice(number).unwrap().net_creditable();
                let net = amount(cents_of(creditable) * u64::from(percent) / 100);
                let (lines, net) = if by_lines {
                    let line = InvoiceLineRequest {
                        description: LineDescription::parse("Credited").unwrap(),
                        quantity: Quantity::parse("1").unwrap(),
                        unit_price: net,
                    };
                    (Some(vec![line]), None)
                } else {
                    (None, Some(net))
                };
                AgreementCommand::IssueCreditNote(IssueCreditNote {
                    invoice_number: number,
                    on,
                    reason: note(),
                    lines,
                    net,
                })
            }
            Op::Charge { pick, fine } => AgreementCommand::ChargeLatePayment(ChargeLatePayment {
                invoice_number: self.pick_invoice(pick),
                kind: if fine {
                    LateChargeKind::Fine
                } else {
                    LateChargeKind::Penalty
                },
                on,
            }),
            Op::Waive { pick, cents, fine } => {
                AgreementCommand::WaiveLatePayment(WaiveLatePayment {
                    invoice_number: self.pick_invoice(pick),
                    kind: if fine {
                        LateChargeKind::Fine
                    } else {
                        LateChargeKind::Penalty
                    },
                    amount: amount(u64::from(cents)),
                    reason: note(),
                    on: Some(on),
                })
            }
            Op::Sweep { fines } => sweep(on, fines),
            Op::Terminate { after_days } => termination(
                TerminationGround::Mutual,
                on,
                Some((on + time::Duration::days(i64::from(after_days))).min(TODAY)),
            ),
        })
    }

    fn services(&self) -> AgreementServices {
        services_on(TODAY, next_number(&self.events))
    }

    /// Decides and records one command; checks the books after it.
    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let Some(command) = self.command(op) else {
            return Ok(());
        };
        let services = self.services();
        match self.live.decide(command.clone(), &services) {
            Ok(recorded) => {
                for event in recorded {
                    self.live.apply_event(event.clone());
                    self.events.push(event);
                }
                check_books(&self.events, &self.live)?;
                if let AgreementCommand::Sweep(_) = command {
                    // The sweep records what the facts call for once: again, nothing.
                    let again = self.live.decide(command.clone(), &self.services());
                    prop_assert_eq!(again, Ok(Vec::new()), "a sweep repeated: {:?}", command);
                }
            }
            Err(error) => {
                // A refusal is a rule's answer, never an arithmetic or wiring failure,
                // and the sweep (dated on the current business date) is never refused.
                prop_assert!(
                    !matches!(error, AgreementError::Money(_))
                        && error.kind() != ErrorKind::Internal,
                    "{:?} failed on arithmetic: {}",
                    command,
                    error
                );
                prop_assert!(
                    !matches!(command, AgreementCommand::Sweep(_)),
                    "the sweep was refused: {}",
                    error
                );
            }
        }
        Ok(())
    }
}

fn sum(amounts: impl IntoIterator<Item = Money>) -> Money {
    amounts
        .into_iter()
        .fold(kzt("0"), |total, amount| total.checked_add(amount).unwrap())
}

/// What every state after an accepted command must satisfy.
fn check_books(
    events: &[AgreementEvent],
    live: &ParticipantAgreement,
) -> Result<(), TestCaseError> {
    let zero = kzt("0");
    let advance = live.advance().unwrap();
    prop_assert!(!advance.is_negative(), "advance {} negative", advance);
    prop_assert!(!live.debt().unwrap().is_negative());

    for invoice in live.invoices() {
        let n = invoice.number;
        for (part, paid) in [
            (SettledPart::Principal, invoice.principal_paid),
            (SettledPart::Penalty, invoice.penalty_paid),
            (SettledPart::Fine, invoice.fine_paid),
        ] {
            prop_assert!(
                !paid.is_negative(),
                "invoice {}: {:?} paid {}",
                n,
                part,
                paid
            );
            let settled = sum(invoice
                .settlements
                .iter()
                .filter(|s| s.part == part)
                .map(|s| s.amount));
            prop_assert_eq!(settled, paid, "invoice {}: {:?} settlements", n, part);
        }
        prop_assert!(invoice.settlements.iter().all(|s| s.amount.is_positive()));
        prop_assert!(
            invoice.principal_paid.amount() <= invoice.owed_total().amount(),
            "invoice {}: principal paid {} above what it owes {}",
            n,
            invoice.principal_paid,
            invoice.owed_total()
        );
        prop_assert!(
            !invoice.penalty_outstanding().is_negative(),
            "invoice {}",
            n
        );
        prop_assert!(!invoice.fine_outstanding().is_negative(), "invoice {}", n);
        for kind in [LateChargeKind::Penalty, LateChargeKind::Fine] {
            let (charged, paid, waived_charged, _) = invoice.late_charge(kind);
            let standing = sum(invoice
                .charges
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| c.standing()));
            prop_assert_eq!(
                standing,
                charged,
                "invoice {}: {:?} charges standing",
                n,
                kind
            );
            prop_assert!(
                charged
                    .checked_sub(paid)
                    .unwrap()
                    .checked_sub(waived_charged)
                    .unwrap()
                    .amount()
                    >= Decimal::ZERO,
                "invoice {}: {:?} paid and waived beyond what is charged",
                n,
                kind
            );
        }
        if let Some(credited) = &invoice.credited {
            prop_assert!(credited.net.amount() <= invoice.net.amount());
            prop_assert!(credited.vat.amount() <= invoice.vat.amount.amount());
            prop_assert_eq!(
                credited.net.checked_add(credited.vat).unwrap(),
                credited.total
            );
            if credited.net == invoice.net {
                prop_assert_eq!(credited.vat, invoice.vat.amount, "invoice {}: VAT drift", n);
                prop_assert_eq!(invoice.owed_total(), zero);
            }
        }
        if invoice.is_void() {
            prop_assert_eq!(invoice.principal_paid, zero);
            prop_assert_eq!(invoice.penalty_paid, zero);
            prop_assert_eq!(invoice.fine_paid, zero);
            prop_assert!(invoice.credited.is_none());
        } else {
            prop_assert_eq!(
                invoice.paid_in_full_on.is_some(),
                invoice.principal_outstanding().is_zero(),
                "invoice {}: paid in full on {:?} with {} outstanding",
                n,
                invoice.paid_in_full_on,
                invoice.principal_outstanding()
            );
            // §5.9: never more penalty standing (charged, less withdrawn and waived)
            // than 5% of what it owes. (What was charged and then waived stays on the
            // record as charged: a credit note withdraws only what stands.)
            let cap = Money::rounded(
                invoice.owed_total().amount() * PENALTY_CAP_RATE,
                Currency::KZT,
            )
            .unwrap();
            let standing = invoice
                .penalty_charged
                .checked_sub(invoice.penalty_waived_charged)
                .unwrap();
            prop_assert!(
                standing.amount() <= cap.amount(),
                "invoice {}: penalty standing {} above the cap {}",
                n,
                standing,
                cap
            );
        }
    }

    // The money identity: from the events on the left, from the state on the right.
    let mut received = zero;
    let mut reversed = zero;
    let mut refunded = zero;
    for event in events {
        match event {
            AgreementEvent::PaymentReceived(e) => {
                received = received.checked_add(e.amount).unwrap()
            }
            AgreementEvent::PaymentReversed(e) => {
                reversed = reversed.checked_add(e.amount).unwrap();
                let undone = sum(e
                    .taken_back
                    .iter()
                    .flat_map(|a| [a.principal, a.penalty, a.fine])
                    .chain(std::iter::once(e.advance_removed))
                    .chain(e.advance_undone.iter().map(|u| u.amount)));
                prop_assert_eq!(
                    undone,
                    e.amount,
                    "reversal of {} undoes another amount",
                    e.reference
                );
            }
            AgreementEvent::AdvanceRefunded(e) => {
                refunded = refunded.checked_add(e.amount).unwrap()
            }
            _ => {}
        }
    }
    let held = sum(live
        .invoices()
        .flat_map(|i| [i.principal_paid, i.penalty_paid, i.fine_paid]))
    .checked_add(advance)
    .unwrap();
    let net_in = received
        .checked_sub(reversed)
        .unwrap()
        .checked_sub(refunded)
        .unwrap();
    prop_assert_eq!(
        net_in,
        held,
        "received {} - reversed {} - refunded {} != paid + advance {}",
        received,
        reversed,
        refunded,
        advance
    );
    // Reversed payments are the ones the state marks so.
    let marked = sum(live
        .payments
        .values()
        .filter(|p| p.reversed_on.is_some())
        .map(|p| p.amount));
    prop_assert_eq!(marked, reversed);

    assert_replays_to(events, live);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn every_correction_keeps_the_books(ops in proptest::collection::vec(op(), 1..45)) {
        let mut run = Run::new();
        for op in &ops {
            run.step(op)?;
        }
    }

    /// A payment recorded in order and reversed at once leaves every invoice and the
    /// advance exactly as they were before it (BILLING.md 5.2: as if never received).
    #[test]
    fn a_payment_reversed_at_once_is_as_if_never_received(
        ops in proptest::collection::vec(op(), 0..30),
        cents in 1u32..3_000_000,
        named in proptest::option::of(any::<u8>()),
    ) {
        let mut run = Run::new();
        for op in &ops {
            run.step(op)?;
        }
        let before = run.live.clone();
        let on = run.on;
        let invoice_number = named.map(|pick| run.pick_invoice(pick));
        let payment = AgreementCommand::ReceivePayment(ReceivePayment {
            reference: reference_of("AT-ONCE"),
            received_on: on,
            amount: amount(u64::from(cents)),
            currency: None,
            invoice_number,
        });
        let Ok(paid) = before.decide(payment, &run.services()) else {
            return Ok(());
        };
        let mut events = run.events.clone();
        let mut state = before.clone();
        for event in paid {
            state.apply_event(event.clone());
            events.push(event);
        }
        let reversal = state.decide(reverse("AT-ONCE", on), &run.services());
        let reversal = reversal.map_err(|e| TestCaseError::fail(format!("refused: {e}")))?;
        for event in reversal {
            state.apply_event(event.clone());
            events.push(event);
        }
        check_books(&events, &state)?;
        prop_assert_eq!(state.advance(), before.advance());
        for invoice in before.invoices() {
            prop_assert_eq!(state.invoice(invoice.number), Some(invoice));
        }
    }
}
