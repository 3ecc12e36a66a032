import itertools

import pytest

from app.providers.base import PaymentStatus as S
from app.services.transitions import ALLOWED, TERMINAL, Decision, decide


class TestTransitionTable:
    def test_every_status_has_a_row(self) -> None:
        assert set(ALLOWED) == set(S)

    @pytest.mark.parametrize(
        ("terminal", "target"),
        [(t, s) for t, s in itertools.product(TERMINAL, S) if s is not S.SUCCEEDED],
    )
    def test_nothing_leaves_a_terminal_status_but_for_money_taken(
        self, terminal: S, target: S
    ) -> None:
        assert not decide(terminal, target).moves

    @pytest.mark.parametrize("closed", [S.CANCELED, S.EXPIRED, S.FAILED])
    def test_money_taken_after_we_closed_the_payment_is_recorded(self, closed: S) -> None:
        """A QR code scanned after the order changed: the provider took the money."""
        assert decide(closed, S.SUCCEEDED).moves

    def test_nothing_leaves_succeeded(self) -> None:
        assert not any(decide(S.SUCCEEDED, target).moves for target in S)

    def test_late_processing_does_not_undo_succeeded(self) -> None:
        assert decide(S.SUCCEEDED, S.PROCESSING).decision is Decision.FORBIDDEN

    def test_failed_three_d_secure_returns_to_requires_payment_method(self) -> None:
        assert decide(S.REQUIRES_ACTION, S.REQUIRES_PAYMENT_METHOD).moves

    def test_processing_never_goes_back_to_requires_action(self) -> None:
        assert not decide(S.PROCESSING, S.REQUIRES_ACTION).moves

    def test_same_status_is_not_a_move(self) -> None:
        assert decide(S.PROCESSING, S.PROCESSING).decision is Decision.SAME

    def test_stale_snapshot_never_moves(self) -> None:
        assert decide(S.REQUIRES_PAYMENT_METHOD, S.SUCCEEDED, is_stale=True).decision is (
            Decision.STALE
        )

    @pytest.mark.parametrize("status", [s for s in S if s not in TERMINAL])
    def test_every_open_status_can_end(self, status: S) -> None:
        assert any(decide(status, t).moves for t in TERMINAL)
