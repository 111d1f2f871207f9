"""The command line: ``bedrock-chains`` (console script) and ``python handler.py`` run the same ``main``.

    bedrock-chains EVENT.json | -      print the response JSON (exit 0 if ok, 1 if not); --format table
    bedrock-chains --list              the chains
    bedrock-chains bulk ...            bulk runs on Bedrock batch inference (chains/cli/bulk.py, docs/bulk.md)
    bedrock-chains --check [--ping]    configuration (every section, every prompt file), backend, region,
                                       credentials source, endpoint, model health (exit 1 on any problem)
    bedrock-chains router fit LABELLED.jsonl --out router.json [--target-quality 0.95 | --target-cost 0.3]
                                       train the learned router on your own labelled prompts (chains.routing.fit)
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, Optional

from chains.errors import ChainsError
from chains.observability.setup import force_local
from chains.registry import describe_chains
from chains.service import handle


def _read_event(path: str) -> Any:
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    return json.loads(text)


def main(argv: Optional[list] = None, prog: str = "bedrock-chains") -> int:
    import argparse

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:2] == ["router", "fit"]:
        from chains.routing.fit import main as fit_main

        return fit_main(argv[2:], prog=f"{prog} router fit")

    if argv[:1] == ["bulk"]:  # bulk runs on Bedrock batch inference (chains/cli/bulk.py)
        from chains.cli.bulk import main as bulk_main

        _load_dotenv()
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
        force_local()
        return bulk_main(argv[1:], prog=prog)
    parser = argparse.ArgumentParser(prog=prog, description="Run a Bedrock Chains event.")
    parser.add_argument("event", nargs="?", help="event JSON file, or - for stdin")
    parser.add_argument("--list", action="store_true", help="list the chains")
    parser.add_argument("--check", action="store_true", help="report backend, region, credentials, endpoint")
    parser.add_argument("--ping", action="store_true", help="with --check: send a one-token request to each model")
    parser.add_argument("--format", choices=["json", "table"], default="json", help="output format")
    args = parser.parse_args(argv)
    if args.ping and not args.check:
        parser.error("--ping works only with --check (try: --check --ping)")
    if not (args.event or args.list or args.check):
        parser.error("nothing to do: give an event JSON file (or - for stdin), --list, --check or 'router fit'")

    _load_dotenv()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # Logs and metrics go to stderr, readable: stdout carries only the response JSON. Other libraries'
    # warnings (root handler) are masked too.
    force_local()
    from chains.observability.redaction import RedactionFilter

    for root_handler in logging.root.handlers:
        root_handler.addFilter(RedactionFilter())

    if args.list:
        try:
            items = describe_chains()
            # Columns as wide as their longest entry, so long chain or prompt names stay in line.
            name_w = max((len(i["name"]) for i in items), default=0)
            strategy_w = max((len(i["strategy"]) for i in items), default=0)
            prompt_w = max((len(f"prompt={i['prompt']}") for i in items), default=0)
            for item in items:
                print(f"{item['name']:<{name_w}}  {item['strategy']:<{strategy_w}}  "
                      f"{'prompt=' + item['prompt']:<{prompt_w}}  {item['description']}")
        except ChainsError as exc:
            print(json.dumps({"ok": False, "error": exc.to_dict()}, indent=2))
            return 1
        return 0
    if args.check:
        from chains.cli.check import run_check

        report, ok = run_check(ping=args.ping)
        print(report)
        return 0 if ok else 1
    try:
        event = _read_event(args.event)
    except OSError as exc:
        print(json.dumps({"ok": False, "error": {"type": "BadRequest", "message": f"cannot read {args.event}: {exc.strerror}", "status": 400}}, indent=2))
        return 1
    except (ValueError, RecursionError) as exc:
        print(json.dumps({"ok": False, "error": {"type": "BadRequest", "message": f"{args.event} is not valid JSON: {exc}", "status": 400}}, indent=2))
        return 1
    status, body = handle(event, _CliContext())
    if args.format == "table":
        from chains.strategies.compare.report import render_table

        print(render_table(body))
    else:
        print(json.dumps(body, indent=2, ensure_ascii=False, default=str))
    return 0 if body.get("ok") else 1


class _CliContext:
    """No Lambda deadline on the command line."""

    aws_request_id = None


def _load_dotenv() -> None:
    """Local runs read ``.env`` (never required; on Lambda the environment comes from the function)."""
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover
        return
    load_dotenv(override=False)
