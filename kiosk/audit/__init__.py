"""The audit log: every verdict and manual registration, durable, chained, private."""
