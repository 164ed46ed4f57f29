"""Helpers for tests that run the real server and CLI as separate processes."""
