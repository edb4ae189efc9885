"""Alerting: rules over the metrics indexes, alert lifecycle in SQL, routing (grouping,
reminders, silences, quiet hours, on-call, escalation) and email through a durable outbox."""
