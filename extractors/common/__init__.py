"""Shared extraction machinery: HTTP client, typed errors, landing zone, raw loader."""
