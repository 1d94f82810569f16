from tests.fakestripe.fixtures import fake_stripe, served_fake_stripe, stripe_gateway

__all__ = ["fake_stripe", "served_fake_stripe", "stripe_gateway"]
