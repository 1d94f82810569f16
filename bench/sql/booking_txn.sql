-- D_txn: what one API booking does inside its transaction (clinic/booking/bookings.py
-- book_slot and taking.py), for pgbench at the app's concurrency:
--   find the client by email, insert them, release expired holds over the slot, insert the
--   appointment in a savepoint (the exclusion constraints check it), then the audit entry,
--   the manage link, the terms consent and the outbox message.
-- The app releases holds once per candidate room; this does it once (the work needed).
--
-- Variables given with -D: location, service, therapist0, room0, therapists, clients, k=0,
-- and offset (above every earlier run's :n). Each client counts its own transactions in
-- :k, so :n is unique without a round trip, and every appointment gets its own 90-minute
-- cell: the guards are active but never fire.
\set k :k + 1
\set n :offset + :k * :clients + :client_id
\set t :therapist0 + (:client_id % :therapists)
\set r :room0 + (:client_id % :therapists)
BEGIN;
SELECT id FROM client WHERE email = 'txn-' || CAST(:n AS bigint) || '@bench.test';
INSERT INTO client (name, email, phone, date_of_birth, emergency_contact_name,
    emergency_contact_phone, preferred_name, pronouns, notes, created_at)
VALUES ('Txn Client', 'txn-' || CAST(:n AS bigint) || '@bench.test', '(215) 555-0199', NULL, '', '', '', '',
    '', now())
RETURNING id AS cid \gset
UPDATE appointment SET status = 'expired', updated_at = now()
WHERE status = 'held' AND hold_expires_at <= now()
    AND blocked_from < timestamptz '2100-01-01 00:00+00' + (CAST(:n AS bigint) * 90 + 75) * interval '1 minute'
    AND blocked_until > timestamptz '2100-01-01 00:00+00' + (CAST(:n AS bigint) * 90) * interval '1 minute'
    AND (therapist_id = CAST(:t AS integer) OR room_id = CAST(:r AS integer))
RETURNING id;
SAVEPOINT take;
INSERT INTO appointment (location_id, therapist_id, client_id, booked_by_client_id, service_id,
    room_id, starts_at, ends_at, blocked_from, blocked_until, status, price_minor, currency,
    source, created_by_user_id, created_at, updated_at, therapist_chosen, hold_expires_at,
    hold_token_hash, hold_owner, hold_address, cancelled_at, cancelled_by, cancellation_reason,
    needs_rebooking, fee_minor)
VALUES (CAST(:location AS integer), CAST(:t AS integer), CAST(:cid AS integer), NULL, CAST(:service AS integer), CAST(:r AS integer),
    timestamptz '2100-01-01 00:00+00' + (CAST(:n AS bigint) * 90) * interval '1 minute',
    timestamptz '2100-01-01 00:00+00' + (CAST(:n AS bigint) * 90 + 60) * interval '1 minute',
    timestamptz '2100-01-01 00:00+00' + (CAST(:n AS bigint) * 90) * interval '1 minute',
    timestamptz '2100-01-01 00:00+00' + (CAST(:n AS bigint) * 90 + 75) * interval '1 minute',
    'confirmed', 9000, 'usd', 'api', NULL, now(), now(), true, NULL, NULL, NULL, NULL, NULL,
    NULL, '', false, 0)
RETURNING id AS aid \gset
RELEASE SAVEPOINT take;
INSERT INTO audit_entry (occurred_at, actor_user_id, actor_label, action, subject_type,
    subject_id, details)
VALUES (now(), NULL, 'client', 'appointment.booked', 'appointment', CAST(:aid AS integer),
    '{"source": "api", "status": "confirmed", "therapist_chosen": true}');
INSERT INTO manage_link (appointment_id, token_hash, created_at, revoked_at)
VALUES (CAST(:aid AS integer), md5('link' || CAST(:n AS bigint)) || md5('token' || CAST(:n AS bigint)), now(), NULL);
INSERT INTO consent (client_id, kind, terms_version, given_at, withdrawn_at, counterparty,
    recorded_by_user_id)
VALUES (CAST(:cid AS integer), 'cancellation_terms', 'booking-policies-1', now(), NULL, '', NULL);
INSERT INTO outbox_message (kind, payload, status, due_at, attempts, leased_until, lease_owner,
    last_error, created_at, done_at)
VALUES ('email.booking_confirmed', json_build_object('appointment_id', CAST(:aid AS integer)), 'pending', now(), 0,
    NULL, NULL, '', now(), NULL);
COMMIT;
