"""Tools for development and tests, never used in production: a local SMS provider."""
