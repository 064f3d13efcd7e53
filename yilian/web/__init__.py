"""Web pages (Jinja2 + htmx), Chinese first and English."""
