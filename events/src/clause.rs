//! References to the clauses of the public offer.

use std::fmt;

/// A clause of the public offer (`../shared/seed/edoc-public-offer.ru.txt`), such as `5.9`,
/// or another legal source where the offer defers to one. Code that enforces a rule names
/// its clause with one of these constants, so that what it records and what it answers
/// can be traced to the sentence of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Clause(&'static str);

impl Clause {
    /// §1.5: acceptance of the offer; services are provided under a signed agreement.
    pub const ACCEPTANCE: Clause = Clause("1.5");
    /// §1.11-1.13: the participant is identified by its BIN/IIN from its certificate.
    pub const IDENTIFICATION: Clause = Clause("1.13");
    /// §3.2: the agreement is concluded on the earlier of registration and signing.
    pub const CONCLUSION: Clause = Clause("3.2");
    /// §4.2: the operator's right to suspend or block access.
    pub const RESTRICTION: Clause = Clause("4.2");
    /// §4.1: the operator invoices by the participant's chosen tariff plan, at the tariffs
    /// in force when the services are rendered.
    pub const TARIFF_PLAN: Clause = Clause("4.1");
    /// §4.1: the operator keeps account of the consumption and payment of the services;
    /// the act of completed work and the reconciliation statement are that account on
    /// paper (BILLING.md 6).
    pub const ACCOUNT_OF_SERVICES: Clause = Clause("4.1");
    /// §5.7: after the service, the operator issues an electronic invoice (IS ESF).
    pub const ELECTRONIC_INVOICE: Clause = Clause("5.7");
    /// §4.2: the operator may change the tariffs unilaterally, by publishing them.
    pub const TARIFF_CHANGE: Clause = Clause("4.2");
    /// §5.1: currency of settlement; non-residents may pay in USD.
    pub const CURRENCY: Clause = Clause("5.1");
    /// §5.3: tariffs change unilaterally; what is paid is never repriced.
    pub const TARIFFS: Clause = Clause("5.3");
    /// §5.4: a subscription invoice is paid within 5 banking days.
    pub const SUBSCRIPTION_DUE: Clause = Clause("5.4");
    /// §5.5: the moment of payment is the day money reaches the operator's account.
    pub const PAYMENT_MOMENT: Clause = Clause("5.5");
    /// §5.8: an invoice for services on credit is paid within 3 working days.
    pub const CREDIT_DUE: Clause = Clause("5.8");
    /// §5.9: penalties, fines, suspension and blocking for late payment.
    pub const LATE_PAYMENT: Clause = Clause("5.9");
    /// §5.10: a subscription fee paid is not refunded on the participant's termination;
    /// only the advance (money not allocated) is paid back (BILLING.md 5.2).
    pub const REFUND: Clause = Clause("5.10");
    /// §5.11: tariffs are net of VAT; VAT is added at the rate in force.
    pub const VAT: Clause = Clause("5.11");
    /// §8: force majeure.
    pub const FORCE_MAJEURE: Clause = Clause("8.4");
    /// §8.2: force majeure is notified within 5 calendar days of its start.
    pub const FORCE_MAJEURE_NOTICE: Clause = Clause("8.2");
    /// §8.3: the term is extended by the duration of force majeure.
    pub const FORCE_MAJEURE_TERM: Clause = Clause("8.3");
    /// §10.1: the agreement is in force from the later of registration and signing.
    pub const IN_FORCE: Clause = Clause("10.1");
    /// §10.2.1: termination by agreement of the parties.
    pub const TERMINATION_MUTUAL: Clause = Clause("10.2.1");
    /// §10.2.2: termination by the participant, 15 calendar days after notice.
    pub const TERMINATION_NOTICE: Clause = Clause("10.2.2");
    /// §10.2.3: termination by law or by a court.
    pub const TERMINATION_COURT: Clause = Clause("10.2.3");
    /// §10.3: termination requires full settlement.
    pub const SETTLEMENT: Clause = Clause("10.3");
    /// BILLING.md 2: subscriptions, their changes and ends, and the proration of a month
    /// started after its first day (the offer is silent; the decision is the operator's).
    pub const SUBSCRIPTION: Clause = Clause("BILLING-2");
    /// BILLING.md 3: usage records, their ingestion and billing.
    pub const USAGE: Clause = Clause("BILLING-3");
    /// BILLING.md 4: the monthly billing run, one invoice per agreement, period and kind.
    pub const BILLING_RUN: Clause = Clause("BILLING-4");
    /// BILLING.md 5.2: a payment the bank returned is undone as if never received.
    pub const REVERSAL: Clause = Clause("BILLING-5.2");
    /// BILLING.md 5.3: voiding an invoice and crediting it (the offer is silent; the
    /// rules are the operator's, after the Tax Code's on corrected invoices).
    pub const CORRECTION: Clause = Clause("BILLING-5.3");
    /// BILLING.md 5.4: a closed month's documents are final.
    pub const PERIOD_CLOSE: Clause = Clause("BILLING-5.4");
    /// Civil Code of Kazakhstan art. 282: the order in which a payment settles debts,
    /// which the offer does not override.
    pub const ALLOCATION: Clause = Clause("CC-282");

    /// The clause number as written in the offer, without the section sign: `5.9`.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(article) = self.0.strip_prefix("CC-") {
            write!(f, "Civil Code art. {article}")
        } else if let Some(section) = self.0.strip_prefix("BILLING-") {
            write!(f, "BILLING.md {section}")
        } else {
            write!(f, "§{}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_with_the_section_sign() {
        assert_eq!(Clause::LATE_PAYMENT.to_string(), "§5.9");
        assert_eq!(Clause::LATE_PAYMENT.as_str(), "5.9");
        assert_eq!(Clause::ALLOCATION.to_string(), "Civil Code art. 282");
    }
}
