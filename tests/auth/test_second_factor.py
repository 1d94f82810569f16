"""Staff second factor: setting it up, signing in with a code or a recovery code, each
code good once, the window of one step either side, the halfway sign-in that grants
nothing and runs out, the back-off on codes, and the audit trail."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from sqlalchemy import select

from clinic import clock
from clinic.audit import AuditEntry
from clinic.auth import second_factor
from clinic.auth.models import RecoveryCode, Role, SecondFactorChallenge, User
from clinic.auth.second_factor import STEP_SECONDS, code_at, matching_step
from clinic.auth.secret_box import SealBroken, SecretBox
from clinic.db import Database
from tests import factories
from tests.auth import second_factor_steps as steps
from tests.factories import STAFF_PASSWORD

T0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
STEP = timedelta(seconds=STEP_SECONDS)


async def _actions(db: Database, user_id: int) -> list[str]:
    async with db.reading() as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.subject_type == "user", AuditEntry.subject_id == str(user_id))
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def _entries(db: Database, user_id: int, action: str) -> list[AuditEntry]:
    async with db.reading() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject_id == str(user_id), AuditEntry.action == action)
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def _user(db: Database, user_id: int) -> User:
    async with db.reading() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def _enrolled(
    http: httpx2.AsyncClient, db: Database, *roles: Role
) -> tuple[User, str, list[str]]:
    """A member who has set up their second factor at T0, signed out again."""
    with clock.frozen_at(T0):
        user = await factories.sign_in_as(http, db, *(roles or (Role.FRONTDESK,)))
        secret, codes = await steps.enrol(http, T0)
        await steps.sign_out(http)
    return user, secret, codes


# Setting it up


async def test_setting_up_shows_the_key_as_text_uri_and_qr_and_takes_effect_on_a_code(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(T0):
        user = await factories.sign_in_as(http, db, Role.THERAPIST)
        before = await http.get(steps.SET_UP_PAGE)
        assert "Two-step sign-in is off" in before.text
        assert (await steps.start_set_up(http)).status_code == 303
        page = await http.get(steps.SET_UP_PAGE)
        secret = steps.setup_key(page.text)
        # Not in effect until confirmed.
        assert not (await _user(db, user.id)).has_second_factor
        confirmed = await steps.confirm(http, code_at(secret, T0))

    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "otpauth://totp/" in page.text
    assert f"secret={secret}" in page.text
    assert '<svg width="' in page.text
    assert 'class="qr-code"' in page.text
    # The inline SVG carries no style attribute and no script: the CSP lets it through.
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    assert "style=" not in svg
    assert "<script" not in svg

    assert confirmed.status_code == 200
    assert "<title>Your recovery codes</title>" in confirmed.text
    assert confirmed.headers["cache-control"] == "no-store"
    shown = steps.recovery_codes(confirmed.text)
    assert len(set(shown)) == 10

    stored = await _user(db, user.id)
    assert stored.has_second_factor
    assert stored.totp_confirmed_at == T0
    assert stored.totp_pending_secret is None
    # Sealed, not plain; and bound to this account.
    assert stored.totp_secret is not None
    assert secret not in stored.totp_secret
    async with db.reading() as session:
        hashes = list(
            await session.scalars(
                select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)
            )
        )
    assert len(hashes) == 10
    assert not {c.replace("-", "") for c in shown} & set(hashes)
    assert await _actions(db, user.id) == [
        "user.signed_in",
        "user.second_factor_set_up_started",
        "user.second_factor_enabled",
    ]

    with clock.frozen_at(T0):
        overview = await http.get("/account")
    assert "On since" in overview.text
    assert "10 of 10 left" in overview.text


async def test_setting_up_asks_for_the_password_again(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user = await factories.sign_in_as(http, db, Role.FRONTDESK)
    missing = await steps.start_set_up(http, password="")
    wrong = await steps.start_set_up(http, password="not my passphrase at all")

    assert missing.status_code == 422
    assert "Enter your current password" in missing.text
    assert wrong.status_code == 422
    assert "<title>Error: Two-step sign-in</title>" in wrong.text
    assert "Your password is not right" in wrong.text
    assert (await _user(db, user.id)).totp_pending_secret is None
    [failure] = await _entries(db, user.id, "user.reauthentication_failed")
    assert failure.details["for"] == "second_factor_set_up"


async def test_a_wrong_confirming_code_leaves_it_off_and_keeps_what_was_typed(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(T0):
        user = await factories.sign_in_as(http, db, Role.FRONTDESK)
        await steps.start_set_up(http)
        secret = steps.setup_key((await http.get(steps.SET_UP_PAGE)).text)
        wrong_code = code_at(secret, T0 + 5 * STEP)
        refused = await steps.confirm(http, wrong_code)

    assert refused.status_code == 422
    assert "<title>Error: Two-step sign-in</title>" in refused.text
    assert f'value="{wrong_code}"' in refused.text
    # The same key is shown again, so the app already scanned still fits.
    assert steps.setup_key(refused.text) == secret
    assert not (await _user(db, user.id)).has_second_factor
    [failure] = await _entries(db, user.id, "user.second_factor_failed")
    assert failure.details["during"] == "set_up"


async def test_a_set_up_runs_out_after_ten_minutes(db: Database, http: httpx2.AsyncClient) -> None:
    with clock.frozen_at(T0):
        user = await factories.sign_in_as(http, db, Role.FRONTDESK)
        await steps.start_set_up(http)
        secret = steps.setup_key((await http.get(steps.SET_UP_PAGE)).text)
    later = T0 + timedelta(minutes=11)
    with clock.frozen_at(later):
        late = await steps.confirm(http, code_at(secret, later))
    assert late.status_code == 409
    assert "ran out of time" in late.text
    assert not (await _user(db, user.id)).has_second_factor


async def test_moving_to_a_new_phone_keeps_the_old_one_until_the_new_one_is_confirmed(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(T0):
        user = await factories.sign_in_as(http, db, Role.FRONTDESK)
        old_secret, _ = await steps.enrol(http, T0)
        sealed_before = (await _user(db, user.id)).totp_secret
        await steps.start_set_up(http)
        new_secret = steps.setup_key((await http.get(steps.SET_UP_PAGE)).text)
        assert new_secret != old_secret
        assert (await _user(db, user.id)).totp_secret == sealed_before
    at = T0 + 2 * STEP
    with clock.frozen_at(at):
        assert (await steps.confirm(http, code_at(new_secret, at))).status_code == 200
        await steps.sign_out(http)
        await steps.password_step(http, user.email)
        old = await steps.code_step(http, code_at(old_secret, at + STEP))
        new = await steps.code_step(http, code_at(new_secret, at + STEP))
    assert old.status_code == 200
    assert "That code is not right" in old.text
    assert new.status_code == 303
    [enabled, replaced] = await _entries(db, user.id, "user.second_factor_enabled")
    assert (enabled.details["replaced"], replaced.details["replaced"]) == (False, True)


# Signing in


async def test_a_member_with_a_second_factor_is_asked_for_a_code_and_has_no_access_before(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user, secret, _ = await _enrolled(http, db)
    at = T0 + 2 * STEP
    with clock.frozen_at(at):
        password = await steps.password_step(http, user.email, next_path="/desk/week")
        set_cookies = password.headers.get_list("set-cookie")
        halfway = [await http.get(p) for p in ("/desk/", "/account", steps.SET_UP_PAGE)]
        form = await http.get("/login/code?next=/desk/week")
        done = await steps.code_step(http, code_at(secret, at))
        desk = await http.get("/desk/")

    assert password.status_code == 303
    assert password.headers["location"] == "/login/code?next=%2Fdesk%2Fweek"
    assert not any("clinic_session=" in c for c in set_cookies)
    challenge = next(c for c in set_cookies if "clinic_challenge=" in c)
    assert challenge.startswith("__Host-clinic_challenge=")
    assert {"httponly", "secure", "samesite=lax", "max-age=300"} <= {
        p.strip().lower() for p in challenge.split(";")[1:]
    }
    # The halfway state is no session: every staff page sends it to sign in.
    for response in halfway:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    assert form.status_code == 200
    assert "<title>Enter your sign-in code</title>" in form.text
    assert form.headers["cache-control"] == "no-store"
    assert done.status_code == 303
    assert done.headers["location"] == "/desk/"
    assert any("clinic_session=" in c for c in done.headers.get_list("set-cookie"))
    assert desk.status_code == 200
    actions = await _actions(db, user.id)
    assert actions[-2:] == ["user.password_accepted", "user.signed_in"]
    signed_in = (await _entries(db, user.id, "user.signed_in"))[-1]
    assert signed_in.details["second_factor"] == "totp"
    async with db.reading() as session:
        assert (await session.scalar(select(SecondFactorChallenge))) is None


async def test_next_survives_the_code_step(db: Database, http: httpx2.AsyncClient) -> None:
    user, secret, _ = await _enrolled(http, db)
    at = T0 + 2 * STEP
    with clock.frozen_at(at):
        await steps.password_step(http, user.email, next_path="/desk/week")
        token = await factories.form_token(http)
        done = await http.post(
            "/login/code?next=/desk/week", data={"code": code_at(secret, at), "csrf_token": token}
        )
    assert done.headers["location"] == "/desk/week"


async def test_a_wrong_code_is_refused_and_audited_and_the_step_stays_open(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user, secret, _ = await _enrolled(http, db)
    at = T0 + 2 * STEP
    with clock.frozen_at(at):
        await steps.password_step(http, user.email)
        wrong = await steps.code_step(
            http, "000000" if code_at(secret, at) != "000000" else "111111"
        )
        empty = await steps.code_step(http, "")
        right = await steps.code_step(http, code_at(secret, at))
    assert wrong.status_code == 200
    assert "<title>Error: Enter your sign-in code</title>" in wrong.text
    assert "That code is not right" in wrong.text
    assert empty.status_code == 200
    assert "Enter the code from your authenticator app" in empty.text
    assert right.status_code == 303
    [failure] = await _entries(db, user.id, "user.second_factor_failed")
    assert failure.details == {"ip": "127.0.0.1", "during": "sign_in", "reason": "wrong_code"}


async def test_a_code_is_never_accepted_twice(db: Database, http: httpx2.AsyncClient) -> None:
    user, secret, _ = await _enrolled(http, db)
    at = T0 + 2 * STEP
    code = code_at(secret, at)
    with clock.frozen_at(at):
        await steps.password_step(http, user.email)
        assert (await steps.code_step(http, code)).status_code == 303
        await steps.sign_out(http)
    # Within the same 30 seconds, and within the window a step later.
    for later in (at + timedelta(seconds=5), at + STEP):
        with clock.frozen_at(later):
            await steps.password_step(http, user.email)
            again = await steps.code_step(http, code)
        assert again.status_code == 200
        assert "That code is not right" in again.text
    reasons = [
        e.details["reason"] for e in await _entries(db, user.id, "user.second_factor_failed")
    ]
    assert reasons == ["reused_code", "reused_code"]


async def test_the_code_set_up_was_confirmed_with_cannot_sign_in(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user, secret, _ = await _enrolled(http, db)
    with clock.frozen_at(T0 + timedelta(seconds=10)):
        await steps.password_step(http, user.email)
        reused = await steps.code_step(http, code_at(secret, T0))
    assert "That code is not right" in reused.text


async def test_codes_from_one_step_either_side_are_accepted_over_http(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user, secret, _ = await _enrolled(http, db)
    at = T0 + 10 * STEP
    with clock.frozen_at(at):
        await steps.password_step(http, user.email)
        behind = await steps.code_step(http, code_at(secret, at - STEP))
        await steps.sign_out(http)
        await steps.password_step(http, user.email)
        too_far = await steps.code_step(http, code_at(secret, at + 2 * STEP))
        ahead = await steps.code_step(http, code_at(secret, at + STEP))
    assert behind.status_code == 303
    assert too_far.status_code == 200
    assert ahead.status_code == 303


def test_the_window_is_one_step_either_side_and_only_after_the_last_step() -> None:
    secret = second_factor.new_secret()
    now = T0 + timedelta(seconds=14)  # inside a step, not on its edge
    current = second_factor.step_at(now)
    for offset, accepted in ((-2, False), (-1, True), (0, True), (1, True), (2, False)):
        code = code_at(secret, now + offset * STEP)
        found = matching_step(secret, code, now, last_step=None)
        assert (found == current + offset) is accepted, offset
        assert found is None or accepted
    # A code for a step at or before the last one used is refused, even in the window.
    assert matching_step(secret, code_at(secret, now), now, last_step=current) is None
    assert matching_step(secret, code_at(secret, now + STEP), now, last_step=current) == current + 1
    assert matching_step(secret, "12345", now, last_step=None) is None
    assert matching_step(secret, "abcdef", now, last_step=None) is None


async def test_a_recovery_code_signs_in_once_only(db: Database, http: httpx2.AsyncClient) -> None:
    user, _, codes = await _enrolled(http, db)
    at = T0 + 2 * STEP
    # People type codes in capitals, with spaces, or with an O for a zero.
    typed = codes[0].upper().replace("-", " ").replace("0", "O")
    with clock.frozen_at(at):
        await steps.password_step(http, user.email)
        first = await steps.code_step(http, typed)
        landing = await http.get(first.headers["location"])
        await steps.sign_out(http)
        await steps.password_step(http, user.email)
        second = await steps.code_step(http, codes[0])
        overview_login = await steps.code_step(http, codes[1])
        overview = await http.get("/account")

    assert first.status_code == 303
    assert "You signed in with a recovery code. You have 9 recovery codes left." in landing.text
    assert second.status_code == 200
    assert "That code is not right" in second.text
    assert overview_login.status_code == 303
    assert "8 of 10 left" in overview.text
    [used, _] = await _entries(db, user.id, "user.recovery_code_used")
    assert used.details["left"] == 9
    signed_in = (await _entries(db, user.id, "user.signed_in"))[-1]
    assert signed_in.details["second_factor"] == "recovery_code"
    failure = (await _entries(db, user.id, "user.second_factor_failed"))[-1]
    assert failure.details["reason"] == "wrong_recovery_code"


async def test_new_recovery_codes_replace_the_old_ones(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(T0):
        user = await factories.sign_in_as(http, db, Role.FRONTDESK)
        _, old_codes = await steps.enrol(http, T0)
        token = await factories.form_token(http, steps.SET_UP_PAGE)
        wrong = await http.post(
            "/account/recovery-codes", data={"password": "wrong passphrase", "csrf_token": token}
        )
        made = await http.post(
            "/account/recovery-codes", data={"password": STAFF_PASSWORD, "csrf_token": token}
        )
        await steps.sign_out(http)
        new_codes = steps.recovery_codes(made.text)
        await steps.password_step(http, user.email)
        old = await steps.code_step(http, old_codes[0])
        new = await steps.code_step(http, new_codes[0])
    assert wrong.status_code == 422
    assert 'id="codes-password-error"' in wrong.text
    assert made.status_code == 200
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    assert old.status_code == 200
    assert new.status_code == 303
    assert len(await _entries(db, user.id, "user.recovery_codes_replaced")) == 1


async def test_the_halfway_sign_in_runs_out_after_five_minutes(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user, secret, _ = await _enrolled(http, db)
    with clock.frozen_at(T0 + STEP):
        await steps.password_step(http, user.email)
    late = T0 + STEP + timedelta(minutes=5, seconds=1)
    with clock.frozen_at(late):
        page = await http.get("/login/code")
        posted = await steps.code_step(http, code_at(secret, late))
        login = await http.get("/login")
    assert page.status_code == 303
    assert page.headers["location"] == "/login"
    assert posted.status_code == 303
    assert posted.headers["location"] == "/login"
    assert "Your sign-in took too long or has ended. Sign in again." in login.text
    assert not any(e for e in await _entries(db, user.id, "user.signed_in") if e.occurred_at > T0)


async def test_code_attempts_back_off_and_a_right_password_does_not_reset_them(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user, secret, _ = await _enrolled(http, db)
    at = T0 + 10 * STEP
    wrong = "000000" if code_at(secret, at) != "000000" else "111111"
    with clock.frozen_at(at):
        await steps.password_step(http, user.email)
        for _ in range(5):
            assert (await steps.code_step(http, wrong)).status_code == 200
        blocked = await steps.code_step(http, code_at(secret, at))
        # Signing in again with the right password does not clear the code count.
        await steps.password_step(http, user.email)
        still = await steps.code_step(http, code_at(secret, at))
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "1"
    assert "Too many failed code attempts" in blocked.text
    assert still.status_code == 429
    with clock.frozen_at(at + timedelta(seconds=2)):
        allowed = await steps.code_step(http, code_at(secret, at + timedelta(seconds=2)))
    assert allowed.status_code == 303


async def test_a_wrong_password_gives_no_hint_of_a_second_factor(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user, _, _ = await _enrolled(http, db)
    with clock.frozen_at(T0 + STEP):
        wrong = await steps.password_step(http, user.email, password="not the passphrase")
        unknown = await steps.password_step(http, "nobody@example.com")
    for answer in (wrong, unknown):
        assert answer.status_code == 200
        assert "Enter a correct email address and password." in answer.text
        assert not any("clinic_challenge" in c for c in answer.headers.get_list("set-cookie"))


async def test_signing_out_at_the_code_step_abandons_it(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user, _, _ = await _enrolled(http, db)
    with clock.frozen_at(T0 + STEP):
        await steps.password_step(http, user.email)
        token = await factories.form_token(http)
        await http.post("/logout", data={"csrf_token": token})
        page = await http.get("/login/code")
    assert page.status_code == 303
    async with db.reading() as session:
        assert (await session.scalar(select(SecondFactorChallenge))) is None


async def test_turning_it_off_asks_for_the_password_and_signing_in_then_needs_none(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(T0):
        user = await factories.sign_in_as(http, db, Role.FRONTDESK)
        await steps.enrol(http, T0)
        token = await factories.form_token(http, steps.SET_UP_PAGE)
        wrong = await http.post(
            "/account/second-factor/off", data={"password": "nope nope nope", "csrf_token": token}
        )
        off = await http.post(
            "/account/second-factor/off", data={"password": STAFF_PASSWORD, "csrf_token": token}
        )
        await steps.sign_out(http)
        again = await steps.password_step(http, user.email)
    assert wrong.status_code == 422
    assert 'id="off-password-error"' in wrong.text
    assert off.status_code == 303
    assert off.headers["location"] == "/account"
    assert again.status_code == 303
    assert again.headers["location"] == "/desk/"
    stored = await _user(db, user.id)
    assert stored.totp_secret is None
    assert not stored.has_second_factor
    async with db.reading() as session:
        assert (
            await session.scalar(select(RecoveryCode).where(RecoveryCode.user_id == user.id))
        ) is None
    assert len(await _entries(db, user.id, "user.second_factor_disabled")) == 1


# Secrets at rest and in logs


def test_a_sealed_secret_opens_only_with_its_key_and_for_its_own_account() -> None:
    box = SecretBox("k" * 40)
    sealed = box.seal("JBSWY3DPEHPK3PXP", context="totp:1")
    assert box.open(sealed, context="totp:1") == "JBSWY3DPEHPK3PXP"
    assert "JBSWY3DPEHPK3PXP" not in sealed
    with pytest.raises(SealBroken):
        box.open(sealed, context="totp:2")
    with pytest.raises(SealBroken):
        SecretBox("x" * 40).open(sealed, context="totp:1")
    with pytest.raises(SealBroken):
        box.open(sealed[:-4] + "AAAA", context="totp:1")
    # Recovery-code digests are keyed and bound to the account.
    assert box.code_digest(1, "abc") != box.code_digest(2, "abc")
    assert box.code_digest(1, "abc") != SecretBox("x" * 40).code_digest(1, "abc")
    assert "kkkk" not in repr(box)


async def test_no_secret_or_code_reaches_the_logs(
    db: Database, http: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # The access log may not propagate to the root logger: listen to it directly too.
    access = logging.getLogger("clinic.access")
    access.addHandler(caplog.handler)
    try:
        user, secret, codes = await _enrolled(http, db)
        at = T0 + 2 * STEP
        with clock.frozen_at(at):
            await steps.password_step(http, user.email)
            await steps.code_step(http, codes[0])
    finally:
        access.removeHandler(caplog.handler)
    logged = "\n".join(
        r.getMessage() + repr(getattr(r, "fields", "")) for r in caplog.records
    ).lower()
    assert logged, "expected the access log to have recorded the requests"
    assert secret.lower() not in logged
    assert codes[0].lower() not in logged
    assert codes[0].replace("-", "") not in logged
