from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import StubStripeServer, running_stub_stripe


@pytest.fixture
def stub_stripe() -> Iterator[StubStripeServer]:
    with running_stub_stripe() as stub:
        yield stub
