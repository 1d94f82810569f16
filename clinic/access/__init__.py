"""Who may read a client's health information beyond their role's everyday pages: the
treating therapist's care window, and break-glass access outside it (a reason, a time
limit, an audit entry per read, a list for admins)."""
