"""The collector's web console: accounts, sessions and the console's own audit trail (accounts.py, auth.py,
trail.py and their stores), and the server-rendered pages that use them (web.py, pages_*.py).

Importing this package loads nothing: each part imports what it needs (argon2, the database drivers, Starlette).
"""
