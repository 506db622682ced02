"""Escalation: keeps each issue's claim and resolve deadlines and moves it up the ladder
when one passes."""
