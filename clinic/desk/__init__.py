"""The front desk's read models: the day calendar, a therapist's week, one visit's panel.

They select schedule, contact and payment facts and the intake's flags, never anything
clinical, and each page loads in a fixed number of statements (clinic/desk/calendar.py).
"""
