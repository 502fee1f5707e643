"""The audit log: every state-changing action (who, when, what, before/after)."""
