"""The outbox: every message or later action is a row written in the same transaction as
its cause, and a worker carries it out afterwards (at least once)."""
