"""The curated mutants: one realistic bug in each guard of an invariant, and the tests
that must catch it. `make mutate` applies each alone to a scratch copy of the tree.

Adding an invariant? Add its guard's most likely bug here (the smallest change that
breaks it: a condition dropped, a bound loosened, a key made random), with the tests
that cover it, and run `make mutate`: the new mutant must be killed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    path: str
    old: str  # must occur exactly once in the file
    new: str


@dataclass(frozen=True)
class Mutant:
    name: str
    why: str
    edits: tuple[Edit, ...]
    tests: tuple[str, ...]


def one(name: str, why: str, path: str, old: str, new: str, *tests: str) -> Mutant:
    return Mutant(name, why, (Edit(path, old, new),), tests)


CAP = "AND amount_refunded + amount_refund_pending - amount_refund_overbooked <= amount"

MUTANTS: tuple[Mutant, ...] = (
    # -- the refund cap ------------------------------------------------------------------
    one(
        "refund-cap-check-in-the-migration",
        "the CHECK loosened by one in the migration only",
        "alembic/versions/0004_money_invariants.py",
        f'"{CAP}"',
        f'"{CAP} + 1"',
        "tests/migrations/test_migrations.py",
    ),
    one(
        "refund-cap-check-in-the-model",
        "the CHECK loosened by one in the model only",
        "app/models/payment.py",
        f'"{CAP}"',
        f'"{CAP} + 1"',
        "tests/migrations/test_migrations.py",
    ),
    one(
        "refund-cap-in-python",
        "the reservation lets one more minor unit through",
        "app/services/refunds.py",
        "if wanted > remaining or wanted <= 0:",
        "if wanted > remaining + 1 or wanted <= 0:",
        "tests/api/test_refunds.py::TestRefundAmounts",
    ),
    one(
        "overbooked-dashboard-refund",
        "a dashboard refund larger than the room left is added without marking the overbooking",
        "app/services/refunds.py",
        "        payment.amount_refund_overbooked += refund.amount - room\n",
        "        pass\n",
        "tests/api/test_webhook_inbox.py::TestRefundsMadeAtStripe",
    ),
    # -- one charge per order ------------------------------------------------------------
    one(
        "paid-order-charged-again",
        "a create no longer checks for the order's successful payment",
        "app/services/payments.py",
        "                if paid is not None:\n                    raise _already_paid(paid.id, paid.payment_channel)\n",
        "",
        "tests/api/test_money_invariants.py::TestOneOrderOneCharge::test_reloading_a_paid_checkout_does_not_charge_again",
    ),
    one(
        "second-success-not-a-duplicate",
        "a second success is not marked a duplicate of the first",
        "app/services/payment_updates.py",
        "        if first is not None:\n            payment.duplicate_of = first\n",
        "",
        "tests/api/test_money_invariants.py::TestOneOrderOneCharge::test_two_objects_of_one_order_paid_in_a_race_make_one_charge",
    ),
    one(
        "order-replacement",
        "a changed amount no longer replaces the order's open payment",
        "app/services/payments.py",
        "            same = inserted or _same_request(payment, request, channel)",
        "            same = True",
        "tests/api/test_payment_flows.py::TestOnePaymentPerOrder",
    ),
    # -- the outbox ----------------------------------------------------------------------
    Mutant(
        "events-after-the-commit",
        "staged events are written in a second transaction after the change commits",
        (
            Edit(
                "app/services/events.py",
                "    session.add(\n        Event(",
                "    session.info.setdefault('outbox_later', []).append(\n        Event(",
            ),
            Edit(
                "app/core/db.py",
                '        after: list[AfterCommit] = session.info.pop("after_commit", [])\n',
                '        after: list[AfterCommit] = session.info.pop("after_commit", [])\n'
                '        later = session.info.pop("outbox_later", [])\n'
                "    if later:\n"
                "        async with sessionmaker() as second, second.begin():\n"
                "            second.add_all(later)\n",
            ),
        ),
        ("tests/api/test_invariant_guards.py::TestAChangeAndItsEventCommitTogether",),
    ),
    one(
        "status-change-announces-nothing",
        "a status change stages no event",
        "app/services/payment_updates.py",
        "            stage_payment_event(session, PAYMENT_STATUS_EVENTS[target], payment)\n",
        "",
        "tests/api/test_events.py::TestPaymentEvents",
    ),
    one(
        "relay-lease-fencing",
        "a relay whose lease lapsed may still record its result",
        "app/repositories/events.py",
        "                Event.locked_until == lease,\n",
        "",
        "tests/workers/test_relay.py::TestLeases",
    ),
    # -- credentials ---------------------------------------------------------------------
    one(
        "api-key-prefix",
        "the API key digest compared on its first 8 characters",
        "app/api/deps.py",
        "matched |= hmac.compare_digest(digest, known)",
        "matched |= hmac.compare_digest(digest[:8], known[:8])",
        "tests/api/test_invariant_guards.py::TestTheApiKeyIsComparedWhole",
    ),
    one(
        "client-token-unchecked",
        "any client token reads any payment",
        "app/api/routers/public.py",
        "if not client_token or not matches_digest(client_token, payment.client_token_digests):",
        "if not client_token:",
        "tests/api/test_payment_flows.py::TestPublicRoutes",
    ),
    # -- webhooks in -----------------------------------------------------------------------
    one(
        "webhook-tolerance",
        "a Stripe signature of any age is accepted",
        "app/providers/stripe/webhooks.py",
        "tolerance=self._tolerance_seconds",
        "tolerance=10**9",
        "tests/providers/stripe/test_webhooks.py",
        "tests/api/test_webhooks.py::TestSignatures",
    ),
    one(
        "webhook-rotation",
        "only the first configured webhook secret is tried",
        "app/providers/stripe/webhooks.py",
        "for secret in self._secrets:",
        "for secret in self._secrets[:1]:",
        "tests/providers/stripe/test_webhooks.py",
    ),
    one(
        "inbox-dedupe",
        "an event already handled is handled again",
        "app/services/webhooks.py",
        "            if row.processed_at is not None:\n                return Outcome.DUPLICATE\n"
        "            planned = ",
        "            planned = ",
        "tests/api/test_webhooks.py::TestDuplicates",
    ),
    one(
        "transition-table",
        "a late processing may undo succeeded",
        "app/services/transitions.py",
        "    S.SUCCEEDED: frozenset(),",
        "    S.SUCCEEDED: frozenset({S.PROCESSING}),",
        "tests/services/test_transitions.py",
    ),
    one(
        "stale-final-read-dropped",
        "a final state read before the last applied read is dropped as stale",
        "app/services/payment_updates.py",
        "            not is_terminal(target)\n            and observed_at is not None",
        "            observed_at is not None",
        "tests/api/test_webhook_inbox.py::TestNothingContradictoryOrLateIsBelieved",
    ),
    one(
        "amount-received-trusted",
        "a success is believed whatever amount the provider says it received",
        "app/services/payment_updates.py",
        "if target is PaymentStatus.SUCCEEDED and snapshot.amount_received != payment.amount:",
        "if False:",
        "tests/api/test_webhook_inbox.py::TestNothingContradictoryOrLateIsBelieved",
    ),
    # -- provider keys and answers -------------------------------------------------------------
    one(
        "refund-without-idempotency-key",
        "the refund's Stripe idempotency key is not passed",
        "app/providers/stripe/adapter.py",
        "            refund = await self._client.v1.refunds.create_async(\n"
        '                params, options={"idempotency_key": idempotency_key}\n',
        "            refund = await self._client.v1.refunds.create_async(\n"
        "                params, options={}\n",
        "tests/api/test_invariant_guards.py::TestRetriesWithNothingElseToSettleThem",
    ),
    one(
        "create-key-random",
        "a random suffix on the create's idempotency key",
        "app/services/payments.py",
        '    return f"{payment_id}:create"',
        "    return f\"{payment_id}:create:{new_id('k')}\"",
        "tests/api/test_invariant_guards.py::TestRetriesWithNothingElseToSettleThem",
    ),
    one(
        "refund-id-from-the-credential",
        "the refund's id derived from the caller's API key as well",
        "app/api/routers/refunds.py",
        "            request_key=idempotent.key,",
        "            request_key=f'{idempotent.owner}:{idempotent.key}' if idempotent.key else None,",
        "tests/api/test_money_invariants.py::TestRefundKeys",
    ),
    one(
        "cancel-key-for-life",
        "one cancel key per payment, whatever the attempt",
        "app/services/payments.py",
        '    return f"{payment_id}:cancel:{int(attempt_started_at.timestamp() * 1_000_000)}"',
        '    return f"{payment_id}:cancel"',
        "tests/api/test_money_invariants.py::TestCancelKeys",
    ),
    one(
        "rotated-key-fails-the-payment",
        "a refused API key is taken as proof that the operation was refused",
        "app/providers/stripe/transformers.py",
        '        return ProviderUnavailable(\n            "Stripe refused the configured API key",',
        '        return ProviderRejected(\n            "Stripe refused the configured API key",',
        "tests/api/test_money_invariants.py::TestErrorsSortedByWhatTheyProve",
    ),
    one(
        "retryable-answers-kept",
        "the idempotency layer keeps an answer that says retry",
        "app/api/idempotency.py",
        "        retryable = exc.retryable or isinstance(exc, errors.IdempotencyKeyReused)",
        "        retryable = isinstance(exc, errors.IdempotencyKeyReused)",
        "tests/api/test_money_invariants.py::TestErrorsSortedByWhatTheyProve",
        "tests/api/test_idempotency_api.py",
    ),
    # -- Ping++ has no idempotency header ------------------------------------------------
    one(
        "pingxx-order-no-per-attempt",
        "a retried Ping++ create gets an order_no of its own",
        "app/providers/pingxx/adapter.py",
        '            "order_no": order_no(request.payment_id),',
        '            "order_no": order_no(request.payment_id)[:20] + str(time.time_ns())[-6:],',
        "tests/providers/pingxx/test_adapter_sandbox.py::TestCreate",
    ),
    one(
        "pingxx-refund-not-looked-up",
        "a retried Ping++ refund does not look for the first one",
        "app/providers/pingxx/adapter.py",
        "        for existing in await self.list_refunds(request.payment_reference):",
        "        for existing in ():",
        "tests/providers/pingxx/test_adapter_sandbox.py::TestRefunds",
        "tests/api/test_refunds.py::TestRefundRetries",
    ),
    one(
        "pingxx-signature-refusal-fails",
        "Ping++ refusing our request signature is taken as refusing the operation",
        "app/providers/pingxx/transformers.py",
        '    if status == 400 and not error.get("param") and _about_the_signature(message):',
        "    if False:",
        "tests/providers/pingxx/test_adapter_sandbox.py::TestCredentials",
    ),
    one(
        "pingxx-unknown-events-believed",
        "any signed Ping++ event's object is applied as it stands",
        "app/providers/pingxx/webhooks.py",
        "    believed = _believed(event_type, payment, refund)",
        "    believed = True",
        "tests/api/test_webhooks.py::TestPingxxEventsAreHints",
    ),
    # -- money units -------------------------------------------------------------------
    one(
        "zero-decimal-yen",
        "JPY treated as a two-decimal currency at Stripe",
        "app/core/money.py",
        '_STRIPE_ZERO = _words("bif clp djf gnf jpy kmf',
        '_STRIPE_ZERO = _words("bif clp djf gnf kmf',
        "tests/core/test_money.py",
    ),
    one(
        "echo-not-converted",
        "Stripe's amount read back without converting its units",
        "app/providers/stripe/transformers.py",
        '        amount=from_stripe_amount(_required_int(raw, "amount"), currency),\n'
        "        currency=currency,\n        livemode",
        '        amount=_required_int(raw, "amount"),\n        currency=currency,\n        livemode',
        "tests/api/test_money_invariants.py::TestCurrencyRules",
    ),
    one(
        "amount-checked-after-storing",
        "a create no longer checks the provider's amount rules first",
        "app/services/payments.py",
        "            self.registry.get(channel.provider).check_amount(request.amount, request.currency)",
        "            pass",
        "tests/api/test_money_invariants.py::TestCurrencyRules",
    ),
    # -- the janitor ---------------------------------------------------------------------
    one(
        "janitor-leadership",
        "every janitor process works at once",
        "app/services/reconciliation.py",
        "if not await repository.try_advisory_lock(RECONCILIATION_LOCK_KEY):",
        "if False:",
        "tests/workers/test_janitor.py::TestLeadership",
    ),
    one(
        "no-expiry",
        "an abandoned payment is checked forever and never expires",
        "app/services/reconciliation.py",
        "        if payment.expires_at <= now:",
        "        if False:",
        "tests/workers/test_expiry_and_schedule.py::TestAbandonedPaymentsEnd",
    ),
    one(
        "no-back-off",
        "a check that found nothing new schedules no later check",
        "app/services/reconciliation.py",
        "            if not changed:\n                await self._back_off(payment, now)\n",
        "",
        "tests/workers/test_expiry_and_schedule.py::TestBackOff",
    ),
    # -- requests ------------------------------------------------------------------------
    one(
        "fingerprint-without-the-body",
        "an Idempotency-Key fingerprint that ignores the body",
        "app/services/idempotency.py",
        "for part in (method.upper().encode(), path.encode(), canonical_body(body)):",
        "for part in (method.upper().encode(), path.encode()):",
        "tests/api/test_idempotent_requests.py",
    ),
    one(
        "lease-not-renewed",
        "a running request's idempotency lease is not renewed",
        "app/services/idempotency.py",
        "            await asyncio.sleep(self.lease.total_seconds() / 3)",
        "            await asyncio.sleep(3600)",
        "tests/api/test_idempotency_leases.py",
    ),
    one(
        "chunked-body-unbounded",
        "a body without a Content-Length is not counted",
        "app/api/limits.py",
        "            if seen > self.max_bytes:",
        "            if False:",
        "tests/api/test_small_holes.py::TestBodiesCutShort",
    ),
)
