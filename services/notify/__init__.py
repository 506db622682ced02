"""Notify: tells units and leaders, once, on a channel that reaches them."""
