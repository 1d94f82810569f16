"""Physician clearances: requested, chased, decided, and whether one covers a visit."""
