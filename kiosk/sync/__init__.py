"""Sync: the kiosk side of uploading the audit log and pulling trust files."""
