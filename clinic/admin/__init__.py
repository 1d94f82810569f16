"""Admin set-up use cases: therapists and their credentials, hours and time off; services,
rooms and closures. Pages live in clinic/areas/admin/; the pure form and rule checks here
(forms.py, hours.py, credential_status.py) import no database."""
