"""Payments: online checkout at booking, saved cards for fees, refunds by policy, desk
payments and receipts. `port.py` is the seam; `stripe_gateway.py` (the only module that
imports stripe) and `offline.py` implement it; `service.py` applies what they report."""

# The outbox message that settles an appointment's payments after a cancellation, a
# no-show or a confirmation: refunds, fees, a saved card charged once a visit is cleared
# (handled in clinic/payments/jobs.py). Named here so the booking and clearance code can
# ask for it without importing the payments code.
SETTLE_PAYMENTS = "payment.settle"
