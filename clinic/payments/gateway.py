"""Which gateway this clinic uses (CLINIC_PAYMENTS), one per database per process: the
app's requests and the worker's jobs share it. Tests install their own."""

from __future__ import annotations

import weakref
from urllib.parse import urlsplit

from clinic.db import Database
from clinic.payments.offline import OfflineGateway
from clinic.payments.port import PaymentGateway
from clinic.settings import PaymentsMode, Settings

STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"

# Keyed by the Database object's identity (it is not hashable); the weak reference tells
# a live entry from one whose id was reused after its database was collected.
_Entries = dict[int, tuple[weakref.ref[Database], PaymentGateway]]
_gateways: _Entries = {}


def checkout_origin(settings: Settings) -> str | None:
    """The origin the booking form may be sent on to (the CSP's form-action): Stripe's
    hosted checkout, or the stand-in's when STRIPE_API_BASE points elsewhere."""
    if settings.payments is not PaymentsMode.STRIPE:
        return None
    if settings.stripe_api_base:
        parts = urlsplit(settings.stripe_api_base)
        return f"{parts.scheme}://{parts.netloc}"
    return STRIPE_CHECKOUT_ORIGIN


def build_gateway(settings: Settings, db: Database) -> PaymentGateway:
    if settings.payments is PaymentsMode.STRIPE:
        # Imported here: only a clinic that takes Stripe loads the SDK.
        from clinic.payments.stripe_gateway import StripeGateway

        return StripeGateway(
            settings.stripe_secret_key,
            settings.stripe_webhook_secret,
            api_base=settings.stripe_api_base,
        )
    return OfflineGateway(db, settings.base_url)


def gateway_for(settings: Settings, db: Database) -> PaymentGateway:
    entry = _gateways.get(id(db))
    if entry is not None and entry[0]() is db:
        return entry[1]
    gateway = build_gateway(settings, db)
    install_gateway(db, gateway)
    return gateway


def install_gateway(db: Database, gateway: PaymentGateway) -> None:
    """Use `gateway` for this database from now on (tests: Stripe's stand-in)."""
    key = id(db)

    def forget(_: object, table: _Entries = _gateways) -> None:
        # Bound at definition: at interpreter exit the module's globals may be gone.
        table.pop(key, None)

    _gateways[key] = (weakref.ref(db, forget), gateway)
