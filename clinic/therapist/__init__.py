"""The therapist's workspace: their day sheet and week, completing a session, and the
calendar subscription feed of their appointments."""
