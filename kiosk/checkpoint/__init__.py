"""The checkpoint: scans in, verdicts out, the same for the touchscreen and for headless mode."""
