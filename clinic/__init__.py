"""Clinic: booking for massage-therapy clinics, with oncology massage done safely."""
