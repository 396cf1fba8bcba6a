"""The publishing client: credentials (auth.py), plan.py, publish.py, retry.py; talks to any Hub over HTTP."""
