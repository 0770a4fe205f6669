"""Offline-first push/pull sync API for Django models."""

__version__ = "0.1.0"
