"""The health-code formats the kiosk reads, one module each, chosen by the text's prefix (registry.py)."""
