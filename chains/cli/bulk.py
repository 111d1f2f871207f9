"""``bedrock-chains bulk ...`` (and ``python handler.py bulk ...``): bulk runs from the command line.

    bulk submit records.jsonl --chain qa --s3 s3://bucket/prefix [--options JSON] [--max-cost-usd N]
                [--role-arn ARN] [--wait [--out results.jsonl]]      one JSON object; its "run" names the run
    bulk status RUN                                                   the run's state and jobs
    bulk collect RUN --out results.jsonl [--wait]                     a JSON summary (records, answered, failed,
                                                                      usage, cost_usd, on_demand_cost_usd)
    bulk retry RUN                                                    failed records again, on demand
    bulk cancel RUN                                                   stop the run's unfinished jobs

A record line: {"input": {...the chain's input...}, "record_id": "...", "options": {...}} (record_id defaults to
the line number). A result line: record_id plus the on-demand response shape. ``--options`` applies to every
record (a record's own options win). While waiting, a tqdm progress bar goes to stderr; stdout carries only JSON.
S3 is reached through boto3's usual configuration (``AWS_ENDPOINT_URL_S3`` for a local S3 server).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, List, Optional


def _print(obj: Dict[str, Any]) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def _error(exc: Any) -> Dict[str, Any]:
    from chains.errors import ChainsError

    if isinstance(exc, ChainsError):
        return {"ok": False, "error": {**exc.to_dict(), "status": exc.status}}
    return {"ok": False, "error": {"type": "InternalError", "message": "internal error; see the log", "status": 500}}


def parser(prog: str) -> Any:
    import argparse

    p = argparse.ArgumentParser(prog=f"{prog} bulk", description="Bulk runs on Bedrock batch inference.")
    sub = p.add_subparsers(dest="action", required=True)
    s = sub.add_parser("submit", help="plan, check the budget, write to S3, create the batch jobs")
    s.add_argument("records", help="JSONL file of records ({input, record_id?, options?} per line), or - for stdin")
    s.add_argument("--chain", required=True)
    s.add_argument("--s3", required=True, help="s3://bucket/prefix under which the run is kept")
    s.add_argument("--options", default=None, help="JSON object of options for every record")
    s.add_argument("--max-cost-usd", type=float, default=None, help="refuse the run above this estimate")
    s.add_argument("--role-arn", default=None, help="batch service role (default: $BULK_ROLE_ARN, bulk.role_arn)")
    s.add_argument("--wait", action="store_true", help="wait for the jobs (progress bar on stderr)")
    s.add_argument("--out", default=None, help="with --wait: also collect the results into this JSONL file")
    s.add_argument("--poll-seconds", type=float, default=None, help=argparse.SUPPRESS)
    st = sub.add_parser("status", help="the run's state and jobs")
    st.add_argument("run")
    c = sub.add_parser("collect", help="every record's result, exactly once")
    c.add_argument("run")
    c.add_argument("--out", required=True, help="results JSONL file (- for stdout: the summary then goes to stderr)")
    c.add_argument("--wait", action="store_true", help="wait for unfinished jobs (progress bar on stderr)")
    c.add_argument("--poll-seconds", type=float, default=None, help=argparse.SUPPRESS)
    r = sub.add_parser("retry", help="run the failed records again, on demand")
    r.add_argument("run")
    k = sub.add_parser("cancel", help="stop the run's unfinished jobs")
    k.add_argument("run")
    return p


def main(argv: List[str], prog: str = "bedrock-chains") -> int:
    import chains.bulk as bulk

    args = parser(prog).parse_args(argv)
    try:
        if args.action == "submit":
            options = _options(args.options)
            source = sys.stdin if args.records == "-" else args.records
            try:
                run = bulk.submit(args.chain, source, args.s3, options=options, max_cost_usd=args.max_cost_usd,
                                  role_arn=args.role_arn)
            except OSError as exc:
                from chains.errors import BadRequest

                raise BadRequest(f"cannot read {args.records}: {exc.strerror}", field="records") from None
            out: Dict[str, Any] = {"ok": True, **run.to_dict()}
            if args.wait:
                out["status"] = bulk.wait(run, poll_seconds=args.poll_seconds, progress=True)
                if args.out:
                    out["summary"] = bulk.collect_all(run, out=args.out)
            _print(out)
        elif args.action == "status":
            _print({"ok": True, **bulk.status(args.run)})
        elif args.action == "collect":
            to_stdout = args.out == "-"
            summary = bulk.collect_all(args.run, out=sys.stdout if to_stdout else args.out, wait=args.wait,
                                       poll_seconds=args.poll_seconds, progress=args.wait)
            text = json.dumps({"ok": True, **summary}, indent=2, default=str)
            print(text, file=sys.stderr if to_stdout else sys.stdout)
        elif args.action == "retry":
            _print({"ok": True, **bulk.retry_failed(args.run)})
        else:
            _print({"ok": True, **bulk.cancel(args.run)})
    except Exception as exc:  # typed errors as JSON; a bug is logged with its traceback, never printed
        from chains.errors import ChainsError

        if not isinstance(exc, ChainsError):
            import logging

            logging.getLogger("bedrock_chains.bulk").exception("bulk %s failed", args.action)
        _print(_error(exc))
        return 1
    return 0


def _options(text: Optional[str]) -> Optional[Dict[str, Any]]:
    from chains.errors import BadRequest

    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"--options is not valid JSON: {exc}", field="options") from None
    if not isinstance(value, dict):
        raise BadRequest("--options must be a JSON object", field="options")
    return value
