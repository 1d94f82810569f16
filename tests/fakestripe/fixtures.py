"""Pytest fixtures for the fake Stripe. Import the ones you need into a conftest.py:

from tests.fakestripe.fixtures import fake_stripe, stripe_gateway  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from clinic.payments.stripe_gateway import StripeGateway
from tests.fakestripe.fake import IN_PROCESS_BASE, SECRET_KEY, FakeStripe


@pytest.fixture
def fake_stripe(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    """A fresh fake, reached in-process (see `stripe_gateway`)."""
    # Otherwise the SDK adds a telemetry header about the previous request.
    monkeypatch.setattr(stripe, "enable_telemetry", False)
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def served_fake_stripe(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    """A fresh fake served over loopback HTTP; `fake.base_url` is its address."""
    monkeypatch.setattr(stripe, "enable_telemetry", False)
    with FakeStripe().serve() as fake:
        yield fake


@pytest.fixture
def stripe_gateway(fake_stripe: FakeStripe) -> StripeGateway:
    """The real StripeGateway, talking to `fake_stripe` in-process."""
    return StripeGateway(
        SECRET_KEY,
        fake_stripe.webhook_secret,
        api_base=IN_PROCESS_BASE,
        http_client=fake_stripe.http_client(),
    )
