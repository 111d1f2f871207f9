"""CLI: ``python -m bedrock_local --port PORT [--config config.yaml] [--latency-scale X] [--faults JSON] [--guardrails FILE]``.

Prints the URL alone on its first line (then flushes) so a parent process can read it,
then serves until killed.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from .emulator import Emulator
from .faults import rules_from_env, rules_from_json
from .profiles import load_profiles


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bedrock_local", description=__doc__)
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--config", help="config.yaml whose models: section gives the profiles")
    ap.add_argument("--latency-scale", type=float, default=1.0,
                    help="multiplies profile latency (0 disables sleeping)")
    ap.add_argument("--faults", help="JSON list of fault rules (default: $BEDROCK_LOCAL_FAULTS)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--guardrails", help="guardrails as a .yaml/.json file or JSON text "
                                         "(default: $BEDROCK_LOCAL_GUARDRAILS)")
    ap.add_argument("--region", default="us-east-1",
                    help="region assumed when a request's SigV4 scope does not name one")
    ap.add_argument("--no-lifecycle", action="store_true",
                    help="serve end-of-life models anyway (default: refuse them as Bedrock does; "
                         "also $BEDROCK_LOCAL_LIFECYCLE=0)")
    args = ap.parse_args(argv)

    faults = rules_from_json(args.faults) if args.faults else rules_from_env()
    emu = Emulator(load_profiles(args.config) if args.config else None, faults=faults,
                   seed=args.seed, latency_scale=args.latency_scale, region=args.region,
                   lifecycle=False if args.no_lifecycle else None, guardrails=args.guardrails)
    server = emu.serve(args.host, args.port)
    print(server.url, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
