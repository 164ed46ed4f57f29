"""HTTP routes, one module per resource; assembled in ``api/app.py``."""
