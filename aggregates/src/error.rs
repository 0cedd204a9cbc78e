//! Why the aggregate refused a command. Each refusal names its rule and, where the offer
//! sets the rule, its clause; a refused command records nothing.

use time::Date;

use events::{
    Clause, Currency, InvoiceNumber, LateChargeKind, Money, MoneyError, RestrictionReason,
};

use crate::reference::ReferenceError;

/// How a refusal maps onto the API's vocabulary of failures (API.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The agreement or invoice does not exist (404).
    NotFound,
    /// The command conflicts with the agreement's current state (409).
    Conflict,
    /// The command is well-formed but breaks a rule (422).
    RuleViolation,
    /// The ledger itself is misconfigured or inconsistent (500): never the caller's fault.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgreementError {
    #[error("no agreement is registered for this participant")]
    NotRegistered,
    #[error("this participant is already registered (on {registered_on})")]
    AlreadyRegistered { registered_on: Date },
    #[error(
        "a resident is invoiced and pays in KZT; only a non-resident may choose {currency} (§5.1)"
    )]
    ForeignCurrencyForResident { currency: Currency },
    #[error("the agreement was already signed on {signed_on}")]
    AlreadySigned { signed_on: Date },
    #[error("the agreement is not signed yet: nothing can be {action} before signing (§1.5)")]
    NotSigned { action: &'static str },
    #[error("the agreement was terminated on {terminated_on}: nothing can be {action} after termination (§10.3)")]
    AlreadyTerminated {
        terminated_on: Date,
        action: &'static str,
    },
    #[error("{what} {date} is before the participant's registration on {registered_on}")]
    BeforeRegistration {
        what: &'static str,
        date: Date,
        registered_on: Date,
    },
    #[error("{what} {date} is earlier than the agreement's latest recorded business date {latest}: the ledger does not accept backdated entries")]
    Backdated {
        what: &'static str,
        date: Date,
        latest: Date,
    },
    #[error("{what} {date} is in the future (today is {today} in Kazakhstan)")]
    InTheFuture {
        what: &'static str,
        date: Date,
        today: Date,
    },
    #[error("an invoice issued on {issued_on} precedes the agreement's entry into force on {in_force_from} (§10.1)")]
    InvoiceBeforeInForce {
        issued_on: Date,
        in_force_from: Date,
    },
    #[error("no invoice is issued for a day after the termination's effective date {effective_on}; {issued_on} is after it (§10.3)")]
    InvoiceAfterTermination { issued_on: Date, effective_on: Date },
    #[error("an invoice needs at least one line")]
    NoInvoiceLines,
    #[error("an invoice may have at most {max} lines, this one has {given}")]
    TooManyInvoiceLines { max: usize, given: usize },
    #[error("the service period runs backwards: from {from} to {to}")]
    PeriodReversed { from: Date, to: Date },
    #[error("the invoice total is zero: there is nothing to invoice")]
    ZeroInvoice,
    #[error("the payment amount is zero")]
    ZeroPayment,
    #[error("the payment is in {given}, but this agreement settles in {agreement} (§5.1)")]
    PaymentCurrency {
        given: Currency,
        agreement: Currency,
    },
    #[error("payment reference {reference} was already recorded with another amount, date or invoice; a reference identifies one payment")]
    PaymentReferenceReused { reference: String },
    #[error("invoice {0} does not exist on this agreement")]
    UnknownInvoice(InvoiceNumber),
    #[error("access is already suspended (since {since}, reason {reason:?})")]
    AlreadySuspended {
        since: Date,
        reason: RestrictionReason,
    },
    #[error("the participant is already blocked (since {since}, reason {reason:?})")]
    AlreadyBlocked {
        since: Date,
        reason: RestrictionReason,
    },
    #[error("access is not suspended, so there is nothing to reinstate")]
    NotSuspended,
    #[error("the participant is not blocked, so there is nothing to unblock")]
    NotBlocked,
    #[error("a termination is already pending, effective on {effective_on}")]
    TerminationPending { effective_on: Date },
    #[error("on notice received on {notice_received_on} the agreement ends no earlier than {earliest} (15 calendar days after the notice, §10.2.2)")]
    TerminationTooEarly {
        notice_received_on: Date,
        earliest: Date,
    },
    #[error("the effective date {effective_on} is before the notice was received on {notice_received_on}")]
    EffectiveBeforeNotice {
        effective_on: Date,
        notice_received_on: Date,
    },
    #[error("termination for force majeure needs force majeure lasting more than 90 consecutive days (§8.4); none is recorded on this agreement")]
    NoLongForceMajeure,
    #[error("{0}")]
    MissingReferenceData(ReferenceError),
    #[error("amount out of range: {0}")]
    Money(MoneyError),
    #[error("invoice {invoice_number} is not late as of {on}: it falls due on {due_on}, so no {kind} can be charged (§5.9)", kind = kind.code())]
    NotLate {
        invoice_number: InvoiceNumber,
        kind: LateChargeKind,
        on: Date,
        due_on: Date,
    },
    #[error("nothing more to charge as {kind} on invoice {invoice_number} as of {on}: {accrued} accrued, {charged} already charged and {waived} waived (§5.9)", kind = kind.code(), accrued = accrued.to_json_string(), charged = charged.to_json_string(), waived = waived.to_json_string())]
    NothingToCharge {
        invoice_number: InvoiceNumber,
        kind: LateChargeKind,
        on: Date,
        accrued: Money,
        charged: Money,
        waived: Money,
    },
    #[error("at most {waivable} of the {kind} on invoice {invoice_number} can be waived as of {on} (what has accrued, less what was paid or waived before); {requested} was asked (§5.9)", kind = kind.code(), waivable = waivable.to_json_string(), requested = requested.to_json_string())]
    WaiverTooLarge {
        invoice_number: InvoiceNumber,
        kind: LateChargeKind,
        on: Date,
        requested: Money,
        waivable: Money,
    },
    #[error("the amount to waive is zero")]
    ZeroWaiver,
    #[error("force majeure that started on {started_on} must be notified within 5 calendar days, by {deadline}; the notice came on {notice_received_on} (§8.2)")]
    ForceMajeureNoticeLate {
        started_on: Date,
        notice_received_on: Date,
        deadline: Date,
    },
    #[error("force majeure cannot start after its notice ({started_on} > {notice_received_on})")]
    ForceMajeureStartsAfterNotice {
        started_on: Date,
        notice_received_on: Date,
    },
    #[error("force majeure is already in progress since {started_on}")]
    ForceMajeureInProgress { started_on: Date },
    #[error("no force majeure is in progress")]
    NoForceMajeure,
    #[error("force majeure ending on {ended_on} would end before it started on {started_on}")]
    ForceMajeureEndsBeforeStart { started_on: Date, ended_on: Date },
    #[error("a termination for force majeure takes effect on a date the party names (§8.4): give `effective_on`")]
    EffectiveDateRequired,
    #[error("no invoice number was reserved for this command (a wiring error)")]
    NoInvoiceNumberReserved,
    #[error("no payment with reference {reference} is recorded on this agreement")]
    UnknownPayment { reference: String },
    #[error("payment {reference} was already reversed on {reversed_on}: a payment is reversed once (BILLING.md 5.2)")]
    PaymentAlreadyReversed {
        reference: String,
        reversed_on: Date,
    },
    #[error("the reversal date {on} is before the payment was received on {received_on}")]
    ReversalBeforePayment { on: Date, received_on: Date },
    #[error("payment {reference} cannot be reversed: {shortfall} of its money is no longer held (the advance it left has been refunded); record the bank's return once that money is accounted for (BILLING.md 5.2)", shortfall = shortfall.to_json_string())]
    ReversalNotHeld { reference: String, shortfall: Money },
    #[error("a refund is paid only from the advance: {requested} was asked, the advance held is {advance} (§5.10: fees already allocated are not refunded)", requested = requested.to_json_string(), advance = advance.to_json_string())]
    RefundBeyondAdvance { requested: Money, advance: Money },
    #[error("the refund amount is zero")]
    ZeroRefund,
    #[error("refund reference {reference} was already recorded with another amount or date; a reference identifies one refund")]
    RefundReferenceReused { reference: String },
    #[error("invoice {number} was already voided on {voided_on}")]
    InvoiceAlreadyVoided {
        number: InvoiceNumber,
        voided_on: Date,
    },
    #[error("invoice {number} has {paid} allocated to it: reverse that payment or move the money before voiding it (BILLING.md 5.3)", paid = paid.to_json_string())]
    InvoiceHasMoney { number: InvoiceNumber, paid: Money },
    #[error("invoice {number} has credit notes: correct it with another credit note rather than voiding it (BILLING.md 5.3)")]
    InvoiceCredited { number: InvoiceNumber },
    #[error("invoice {number} is void: it owes nothing, so nothing is charged, waived or credited on it (BILLING.md 5.3)")]
    InvoiceVoid { number: InvoiceNumber },
    #[error("a credit note on invoice {number} may credit at most {creditable} net of VAT (what is not yet credited); {requested} was asked (BILLING.md 5.3)", creditable = creditable.to_json_string(), requested = requested.to_json_string())]
    CreditBeyondInvoice {
        number: InvoiceNumber,
        requested: Money,
        creditable: Money,
    },
    #[error("a credit note gives either `lines` or `net`, exactly one of them")]
    CreditNoteLinesOrNet,
    #[error("the credit note's net amount is zero")]
    ZeroCredit,
    #[error("{what} {date} falls in a closed period: the months through {closed_through} are closed and their documents final (BILLING.md 5.4)")]
    PeriodClosed {
        what: &'static str,
        date: Date,
        closed_through: Date,
    },
    #[error("tariff: no tariff `{tariff}` is published (GET /v1/tariffs lists them)")]
    UnknownTariff { tariff: String },
    #[error("tariff: `{tariff}` has no version in force on {on}: its first version takes effect later (BILLING.md 2)")]
    NoTariffVersion { tariff: String, on: Date },
    #[error("from: a subscription may start at most a year ahead; {from} is more than a year after {today}")]
    SubscriptionTooFarAhead { from: Date, today: Date },
    #[error("from: the subscription cannot start on {from}, before the agreement is in force on {in_force_from} (§10.1)")]
    SubscriptionBeforeInForce { from: Date, in_force_from: Date },
    #[error("the subscription ends on {last_day}, before a change from {from} would take effect: end it later or start a new one after it")]
    SubscriptionEndsBeforeChange { last_day: Date, from: Date },
    #[error("the agreement has no subscription to end")]
    NoSubscription,
    #[error("on: a subscription ends on a month's last day (BILLING.md 2); {on} is not one")]
    SubscriptionEndNotMonthEnd { on: Date },
    #[error(
        "on: {on} is before today ({today}): a subscription ends on a month's last day still ahead"
    )]
    SubscriptionEndInThePast { on: Date, today: Date },
    #[error("on: {on} is before the subscription starts on {from}")]
    SubscriptionEndBeforeStart { on: Date, from: Date },
    /// The billing run skips the agreement for the month, saying why (BILLING.md 4).
    #[error("not billed for {month}: {reason}")]
    NotBillable {
        month: events::CalendarMonth,
        reason: String,
    },
    /// The usage invoice of `month` has nothing to bill (BILLING.md 3): the records
    /// counted (none, or within the included volume) wait for the next usage invoice.
    #[error("not billed for {month}: no usage beyond the included volume ({records} records wait for the next usage invoice)")]
    NoUsageBeyondIncluded {
        month: events::CalendarMonth,
        records: u64,
    },
}

impl AgreementError {
    pub fn kind(&self) -> ErrorKind {
        use AgreementError::*;
        match self {
            NotRegistered | UnknownInvoice(_) | UnknownPayment { .. } => ErrorKind::NotFound,
            PaymentAlreadyReversed { .. }
            | ReversalNotHeld { .. }
            | RefundReferenceReused { .. }
            | InvoiceAlreadyVoided { .. }
            | InvoiceHasMoney { .. }
            | InvoiceCredited { .. }
            | InvoiceVoid { .. }
            | PeriodClosed { .. }
            | SubscriptionEndsBeforeChange { .. }
            | NoSubscription
            | NotBillable { .. }
            | NoUsageBeyondIncluded { .. } => ErrorKind::Conflict,
            UnknownTariff { .. }
            | NoTariffVersion { .. }
            | SubscriptionTooFarAhead { .. }
            | SubscriptionBeforeInForce { .. }
            | SubscriptionEndNotMonthEnd { .. }
            | SubscriptionEndInThePast { .. }
            | SubscriptionEndBeforeStart { .. } => ErrorKind::RuleViolation,
            ReversalBeforePayment { .. }
            | RefundBeyondAdvance { .. }
            | ZeroRefund
            | CreditBeyondInvoice { .. }
            | CreditNoteLinesOrNet
            | ZeroCredit => ErrorKind::RuleViolation,
            AlreadyRegistered { .. }
            | AlreadySigned { .. }
            | NotSigned { .. }
            | AlreadyTerminated { .. }
            | PaymentReferenceReused { .. }
            | AlreadySuspended { .. }
            | AlreadyBlocked { .. }
            | NotSuspended
            | NotBlocked
            | TerminationPending { .. }
            | ForceMajeureInProgress { .. }
            | NoForceMajeure => ErrorKind::Conflict,
            NoInvoiceNumberReserved => ErrorKind::Internal,
            ForeignCurrencyForResident { .. }
            | BeforeRegistration { .. }
            | Backdated { .. }
            | InTheFuture { .. }
            | InvoiceBeforeInForce { .. }
            | InvoiceAfterTermination { .. }
            | NoInvoiceLines
            | TooManyInvoiceLines { .. }
            | PeriodReversed { .. }
            | ZeroInvoice
            | ZeroPayment
            | PaymentCurrency { .. }
            | TerminationTooEarly { .. }
            | EffectiveBeforeNotice { .. }
            | NoLongForceMajeure
            | NotLate { .. }
            | NothingToCharge { .. }
            | WaiverTooLarge { .. }
            | ZeroWaiver
            | ForceMajeureNoticeLate { .. }
            | ForceMajeureStartsAfterNotice { .. }
            | ForceMajeureEndsBeforeStart { .. }
            | EffectiveDateRequired
            | MissingReferenceData(_)
            | Money(_) => ErrorKind::RuleViolation,
        }
    }

    /// The clause of the offer that refuses the command, where one does.
    pub fn clause(&self) -> Option<Clause> {
        use AgreementError::*;
        match self {
            ForeignCurrencyForResident { .. } | PaymentCurrency { .. } => Some(Clause::CURRENCY),
            NotSigned { .. } => Some(Clause::ACCEPTANCE),
            AlreadyTerminated { .. } | InvoiceAfterTermination { .. } => Some(Clause::SETTLEMENT),
            BeforeRegistration { .. } | AlreadyRegistered { .. } => Some(Clause::CONCLUSION),
            InvoiceBeforeInForce { .. } => Some(Clause::IN_FORCE),
            AlreadySuspended { .. } | AlreadyBlocked { .. } | NotSuspended | NotBlocked => {
                Some(Clause::RESTRICTION)
            }
            TerminationTooEarly { .. } => Some(Clause::TERMINATION_NOTICE),
            NotLate { .. } | NothingToCharge { .. } | WaiverTooLarge { .. } | ZeroWaiver => {
                Some(Clause::LATE_PAYMENT)
            }
            NoLongForceMajeure | EffectiveDateRequired => Some(Clause::FORCE_MAJEURE),
            ForceMajeureNoticeLate { .. } | ForceMajeureStartsAfterNotice { .. } => {
                Some(Clause::FORCE_MAJEURE_NOTICE)
            }
            ForceMajeureInProgress { .. } | NoForceMajeure | ForceMajeureEndsBeforeStart { .. } => {
                Some(Clause::FORCE_MAJEURE_TERM)
            }
            PaymentReferenceReused { .. } | ZeroPayment => Some(Clause::PAYMENT_MOMENT),
            PaymentAlreadyReversed { .. }
            | ReversalBeforePayment { .. }
            | ReversalNotHeld { .. } => Some(Clause::REVERSAL),
            RefundBeyondAdvance { .. } | ZeroRefund | RefundReferenceReused { .. } => {
                Some(Clause::REFUND)
            }
            InvoiceAlreadyVoided { .. }
            | InvoiceHasMoney { .. }
            | InvoiceCredited { .. }
            | InvoiceVoid { .. }
            | CreditBeyondInvoice { .. }
            | CreditNoteLinesOrNet
            | ZeroCredit => Some(Clause::CORRECTION),
            PeriodClosed { .. } => Some(Clause::PERIOD_CLOSE),
            UnknownTariff { .. } | NoTariffVersion { .. } => Some(Clause::TARIFF_PLAN),
            SubscriptionBeforeInForce { .. } => Some(Clause::IN_FORCE),
            SubscriptionTooFarAhead { .. }
            | SubscriptionEndsBeforeChange { .. }
            | NoSubscription
            | SubscriptionEndNotMonthEnd { .. }
            | SubscriptionEndInThePast { .. }
            | SubscriptionEndBeforeStart { .. } => Some(Clause::SUBSCRIPTION),
            NotBillable { .. } => Some(Clause::BILLING_RUN),
            NoUsageBeyondIncluded { .. } => Some(Clause::USAGE),
            MissingReferenceData(ReferenceError::NoVatRate(_)) => Some(Clause::VAT),
            MissingReferenceData(ReferenceError::NoExchangeRate(_)) => Some(Clause::CURRENCY),
            _ => None,
        }
    }
}

impl From<ReferenceError> for AgreementError {
    fn from(error: ReferenceError) -> Self {
        Self::MissingReferenceData(error)
    }
}

impl From<MoneyError> for AgreementError {
    fn from(error: MoneyError) -> Self {
        Self::Money(error)
    }
}

impl From<crate::late_payment::LatePaymentError> for AgreementError {
    fn from(error: crate::late_payment::LatePaymentError) -> Self {
        use crate::late_payment::LatePaymentError;
        match error {
            LatePaymentError::Reference(error) => Self::MissingReferenceData(error),
            LatePaymentError::Money(error) => Self::Money(error),
            LatePaymentError::MissingInvoiceRate(number) => {
                Self::MissingReferenceData(ReferenceError::Invalid {
                    file: "invoice",
                    message: format!("invoice {number} is in USD but records no exchange rate"),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_their_clause_and_kind() {
        let error = AgreementError::NotSigned { action: "invoiced" };
        assert_eq!(error.kind(), ErrorKind::Conflict);
        assert_eq!(error.clause(), Some(Clause::ACCEPTANCE));
        assert!(error.to_string().contains("§1.5"));
        assert_eq!(AgreementError::NotRegistered.kind(), ErrorKind::NotFound);
    }
}
