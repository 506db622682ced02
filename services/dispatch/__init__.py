"""Dispatch: sends each issue point to point to the one unit responsible, and tracks its claim."""
