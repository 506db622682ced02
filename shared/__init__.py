"""Loudong's plumbing: event envelope, bus, outbox and inbox, stores, HTTP errors, configuration.

Nothing here knows about issues, units or deadlines; the services own their domain.
"""
