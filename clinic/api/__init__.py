"""The public JSON API under /api/v1/: cookieless, described by /api/openapi.json."""
