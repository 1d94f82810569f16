"""Messages to clients and staff: building, rendering and handing e-mails to a mailer.

Sending happens only from outbox handlers, after the cause has committed; nothing here
opens a database transaction.
"""
