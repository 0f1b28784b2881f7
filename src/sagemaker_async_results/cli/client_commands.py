"""Command line: ``python -m sagemaker_async_results.client {invoke,status,result,redrive}``.

Exit codes: 0 Completed (or success), 1 Failed, 2 usage error, 3 still pending, 4 Expired, 5 unknown ID,
6 the wait timed out, 7 redrive left messages failing.

AWS endpoints come from boto3's standard settings, so the same commands run against real AWS or the
local run (``python -m sagemaker_async_results.local serve`` prints the variables to export).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sagemaker_async_results.client.client import (
    AsyncInferenceClient,
    InferenceRecord,
    InferenceStatus,
    InferenceTimeoutError,
)

EXIT_CODES = {
    InferenceStatus.COMPLETED: 0,
    InferenceStatus.FAILED: 1,
    InferenceStatus.SUBMITTED: 3,
    InferenceStatus.EXPIRED: 4,
    InferenceStatus.UNKNOWN: 5,
}
EXIT_WAIT_TIMEOUT = 6
EXIT_REDRIVE_FAILING = 7
DEFAULT_STACK = "AsyncInferenceStack"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sagemaker_async_results.client", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stack-name", default=DEFAULT_STACK, help="deployed stack (default: %(default)s)")
    parser.add_argument("--region", default=None, help="AWS region (default: boto3's configuration)")
    commands = parser.add_subparsers(dest="command", required=True)

    invoke = commands.add_parser("invoke", help="submit an inference")
    invoke.add_argument("input", help="a local file to upload, or an s3:// URI")
    invoke.add_argument("--content-type", default="application/json")
    invoke.add_argument("--accept")
    invoke.add_argument("--inference-id")
    invoke.add_argument("--custom-attributes")
    invoke.add_argument("--ttl", type=int, help="RequestTTLSeconds (60-21600)")
    invoke.add_argument("--timeout", type=int, help="InvocationTimeoutSeconds (1-3600)")
    invoke.add_argument("--wait", action="store_true", help="wait for the result and print it")
    invoke.add_argument(
        "--wait-timeout", type=float, default=300.0, help="seconds to wait (default: %(default)s)"
    )

    status = commands.add_parser("status", help="print the result record of an inference")
    status.add_argument("inference_id")

    result = commands.add_parser("result", help="print the output, or the failure and its reason")
    result.add_argument("inference_id")
    result.add_argument("--wait", action="store_true")
    result.add_argument("--wait-timeout", type=float, default=300.0)

    redrive = commands.add_parser("redrive", help="replay dead-lettered events through the handler")
    redrive.add_argument("--function", choices=["success", "error", "both"], default="both")
    redrive.add_argument("--max-messages", type=int, default=100)
    return parser


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _show_result(client: AsyncInferenceClient, record: InferenceRecord) -> int:
    if record.status == InferenceStatus.COMPLETED:
        body = client.fetch_body(record) or b""
        sys.stdout.buffer.write(body)
        if not body.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")
    elif record.status == InferenceStatus.FAILED:
        print(f"inference {record.inference_id} failed: {record.failure_reason}", file=sys.stderr)
        error_body = client.fetch_body(record)
        if error_body:
            print(error_body.decode(errors="replace"), file=sys.stderr)
    elif record.status == InferenceStatus.EXPIRED:
        print(
            f"inference {record.inference_id} expired: no notification by {record.expires_by} "
            "(RequestTTLSeconds + InvocationTimeoutSeconds)",
            file=sys.stderr,
        )
    elif record.status == InferenceStatus.UNKNOWN:
        print(f"no record of inference {record.inference_id}", file=sys.stderr)
    else:
        print(f"inference {record.inference_id} is still {record.status}", file=sys.stderr)
    return EXIT_CODES[record.status]


def run(argv: Sequence[str] | None = None, client: AsyncInferenceClient | None = None) -> int:
    args = build_parser().parse_args(argv)
    if client is None:
        import boto3

        client = AsyncInferenceClient.from_stack(args.stack_name, boto3.Session(region_name=args.region))
    try:
        if args.command == "invoke":
            source = args.input if args.input.startswith("s3://") else Path(args.input)
            submission = client.invoke(
                source,
                content_type=args.content_type,
                accept=args.accept,
                inference_id=args.inference_id,
                custom_attributes=args.custom_attributes,
                ttl_seconds=args.ttl,
                invocation_timeout_seconds=args.timeout,
            )
            if not args.wait:
                _print_json(submission.__dict__)
                return 0
            return _show_result(client, client.wait(submission.inference_id, timeout=args.wait_timeout))
        if args.command == "status":
            record = client.status(args.inference_id)
            _print_json(record.as_dict())
            return 0 if record.status != InferenceStatus.UNKNOWN else EXIT_CODES[InferenceStatus.UNKNOWN]
        if args.command == "result":
            record = (
                client.wait(args.inference_id, timeout=args.wait_timeout)
                if args.wait
                else client.status(args.inference_id)
            )
            return _show_result(client, record)
        kinds = ["success", "error"] if args.function == "both" else [args.function]
        failing = 0
        for kind in kinds:
            report = client.redrive(kind, max_messages=args.max_messages)
            _print_json({"function": kind, **report.__dict__})
            failing += report.still_failing
        return EXIT_REDRIVE_FAILING if failing else 0
    except InferenceTimeoutError as error:
        print(str(error), file=sys.stderr)
        return EXIT_WAIT_TIMEOUT


def main() -> None:
    sys.exit(run())
