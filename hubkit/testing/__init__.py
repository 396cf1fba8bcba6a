"""hubkit's test kit: what tests of hubkit, or of code built on it, need beyond the offline kit.

- `hubkit.testing.oidc`: an OIDC issuer (and GitHub's token service) for trusted publishing;
- `python -m hubkit.testing.hub`: the local hub with faults to inject (a server that dies mid-upload).

The tiny models and the scripted teacher are the demo's, in `hubkit.offline`; no production
module imports this package.
"""
