"""The local Hub: a Hub-compatible server (server.py), its storage (store.py) and trusted publishing (trust.py).

Apart from the publishing client (`hubkit.hub`), which talks to it only over HTTP.
"""
