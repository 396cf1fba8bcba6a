"""The local hub with a fault to inject, for tests of what survives a server dying mid-upload:

    HUBKIT_HUB_TOKEN=t python -m hubkit.testing.hub --root DIR --port N --crash-after-bytes 400000

The process exits (code 17) once it has received that many request-body bytes. Not a user
command: `hubkit hub serve` has no such option.
"""

from __future__ import annotations

import argparse
import os

from hubkit.localhub.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hubkit.testing.hub")
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--crash-after-bytes", type=int, required=True)
    args = parser.parse_args()
    serve(args.root, os.environ["HUBKIT_HUB_TOKEN"], port=args.port, crash_after_bytes=args.crash_after_bytes)


if __name__ == "__main__":
    main()
