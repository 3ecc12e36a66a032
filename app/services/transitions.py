"""The one pure function that decides whether a payment's status may change.

Providers deliver events late, twice and out of order; this table is what keeps a late
`processing` from undoing `succeeded`, and a terminal payment terminal, with one
exception: money the provider took is always recorded. A payment we closed (canceled,
expired) whose provider object was paid anyway (a Ping++ QR code scanned after the order
changed, a PaymentIntent paid in another tab while it was being replaced) becomes
`succeeded`, and the one-charge-per-order rule then marks it a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.core.statuses import TERMINAL_PAYMENT_STATUSES as TERMINAL
from app.core.statuses import PaymentStatus as S
from app.core.statuses import RefundStatus as R

ALLOWED: dict[S, frozenset[S]] = {
    S.REQUIRES_PAYMENT_METHOD: frozenset(
        {S.REQUIRES_ACTION, S.PROCESSING, S.SUCCEEDED, S.FAILED, S.CANCELED, S.EXPIRED}
    ),
    # A failed 3-D Secure challenge hands the payment back to the customer.
    S.REQUIRES_ACTION: frozenset(
        {S.REQUIRES_PAYMENT_METHOD, S.PROCESSING, S.SUCCEEDED, S.FAILED, S.CANCELED, S.EXPIRED}
    ),
    # An asynchronous method (a bank debit) that fails returns the PaymentIntent to
    # requires_payment_method at Stripe; it never goes back to requires_action.
    S.PROCESSING: frozenset({S.REQUIRES_PAYMENT_METHOD, S.SUCCEEDED, S.FAILED, S.CANCELED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset({S.SUCCEEDED}),
    S.CANCELED: frozenset({S.SUCCEEDED}),
    S.EXPIRED: frozenset({S.SUCCEEDED}),
}


class Decision(StrEnum):
    APPLY = "apply"  # move to the new status
    SAME = "same"  # already there; nothing moves (a new last_error may still be recorded)
    STALE = "stale"  # older than what we hold
    FORBIDDEN = "forbidden"  # not an allowed move (e.g. out of a terminal status)
    FLAGGED = "flagged"  # the provider object contradicts itself; kept for an operator


@dataclass(frozen=True, slots=True)
class Transition:
    decision: Decision
    current: S
    target: S

    @property
    def moves(self) -> bool:
        return self.decision is Decision.APPLY


def decide(current: S, target: S, *, is_stale: bool = False) -> Transition:
    """`is_stale`: the provider snapshot is older than the one we last applied."""
    if is_stale:
        return Transition(Decision.STALE, current, target)
    if current == target:
        return Transition(Decision.SAME, current, target)
    if target in ALLOWED[current]:
        return Transition(Decision.APPLY, current, target)
    return Transition(Decision.FORBIDDEN, current, target)


def is_terminal(status: S) -> bool:
    return status in TERMINAL


# A refund can fail after it succeeded (the bank returns the money): then it is released.
REFUND_ALLOWED: dict[R, frozenset[R]] = {
    R.PENDING: frozenset({R.SUCCEEDED, R.FAILED, R.CANCELED}),
    R.SUCCEEDED: frozenset({R.FAILED}),
    R.FAILED: frozenset(),
    R.CANCELED: frozenset(),
}


def decide_refund(current: R, target: R) -> Decision:
    if current == target:
        return Decision.SAME
    return Decision.APPLY if target in REFUND_ALLOWED[current] else Decision.FORBIDDEN
