"""The collector: the service kiosks upload their audit logs to, and its database."""
