from tests.booking.conftest import frozen, seeded
from tests.fakestripe.fixtures import fake_stripe, served_fake_stripe, stripe_gateway

__all__ = ["fake_stripe", "frozen", "seeded", "served_fake_stripe", "stripe_gateway"]
