"""Intake: takes residents' issues in from gateway systems and keeps their public status."""
