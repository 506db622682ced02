"""The four Loudong services: intake, dispatch, escalation, notify."""
