"""The wire host: what every session has, whatever answers it (see backend.py)."""
