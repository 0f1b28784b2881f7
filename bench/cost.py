"""Cost per million results: this project, the naive handler and the two polling baselines.

Consumption comes from measured counts: AWS calls per result by operation and the handlers' batch
times from the fake-AWS throughput run (:mod:`bench.fake_aws`, 10 ms per call), S3 requests per result
of the polling baselines from the time-to-result case (this run's, else the last one in
``latest.json``), and DynamoDB write units from the size of the result record the runtime writes
(computed with DynamoDB's item-size rule from the record of a bench notification). Prices are AWS's
public list prices for **us-east-1**, checked against stored copies of web pages read on 2026-12-03
(:data:`PRICE_SOURCES` names each page and quotes it). AWS's own pricing pages fill their price tables
in the browser, so their stored copies show no figures, except an older copy of the Lambda page with
the request price; every other figure is quoted from a third-party page that gives it as AWS's
us-east-1 (or unstated-region) list price (those that carry a date: 2024 to June 2026). DynamoDB
on-demand is the price after AWS's November 2024 cut. That SNS deliveries to SQS and Lambda cost
nothing could not be confirmed from a stored page. Nothing was fetched live (this machine reaches no
pricing API): check the prices before relying on the totals.

Assumptions (stated in the table's notes): functions of 512 MB on arm64 (the construct's default),
buffered delivery with full batches of 10, the caller of this project waits with ``client.wait`` on
its reply queue (the default push: :data:`CALLER_RECEIVES_PER_RESULT` ``ReceiveMessage`` per result and
the result function's ``SendMessageBatch``; ``replyTo`` comes with the claim's answer), for a
2 s model run; what is the same for every approach
(the input upload, ``InvokeEndpointAsync``, SageMaker itself) is left out.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench import ROOT
from bench.stats import Row, percentile

CASE = "cost"
PRICES_AS_OF = "pages read on 2026-12-03"
REGION = "us-east-1"
#: USD, us-east-1 list prices (see the module docstring and PRICE_SOURCES).
PRICES = {
    # aws.amazon.com/lambda/pricing/ (older stored copy): "$0.20 per 1 million requests"
    "lambda_request": 0.20 / 1e6,
    # cloudchipr.com/blog/aws-lambda-pricing (third party): Arm, first 7.5 billion GB-s
    "lambda_gb_second_arm64": 0.0000133334,
    # airbyte.com/data-engineering-resources/dynamodb-pricing (third party, July 2025): on-demand WRU
    "dynamodb_write_unit": 0.625 / 1e6,
    # same page: on-demand read request unit
    "dynamodb_read_unit": 0.125 / 1e6,
    # cloudburn.io/blog/amazon-sqs-pricing (third party, March 2026): standard, per 64 KB chunk
    "sqs_request": 0.40 / 1e6,
    # awsi.click/en/articles/s3-request-pricing-get-put-difference/ (third party); HEAD: c3x.dev
    "s3_get": 0.0004 / 1000,
    # same awsi.click page: PUT, COPY, POST, LIST
    "s3_put": 0.005 / 1000,
    # factualminds.com SNS pricing post (third party, June 2026); free SQS/Lambda deliveries: unconfirmed
    "sns_publish": 0.50 / 1e6,
}
#: Where each price was read (stored copies, 2026-12-03) and what the page says.
PRICE_SOURCES = {
    "lambda_request": {
        "url": "https://aws.amazon.com/lambda/pricing/",
        "quote": "The monthly request price is $0.20 per 1 million requests",
        "note": "AWS's page, an older stored copy (memory 128-3008 MB); examples in US East (N. Virginia)",
    },
    "lambda_gb_second_arm64": {
        "url": "https://cloudchipr.com/blog/aws-lambda-pricing",
        "quote": "ARM Pricing: First 7.5 Billion GB-seconds per month: $0.0000133334 per GB-second",
        "note": "third party (2024), US East (N. Virginia); AWS's page shows no figure in its stored copy",
    },
    "dynamodb_write_unit": {
        "url": "https://airbyte.com/data-engineering-resources/dynamodb-pricing",
        "quote": "After the 50% reduction implemented in late 2024: Write Request Units (WRU): "
        "$0.625 per million write request units",
        "note": "third party (July 2025), US East; AWS's on-demand page shows no figure in its stored copy",
    },
    "dynamodb_read_unit": {
        "url": "https://airbyte.com/data-engineering-resources/dynamodb-pricing",
        "quote": "Read Request Units (RRU): $0.125 per million read request units",
        "note": "third party (July 2025), US East",
    },
    "sqs_request": {
        "url": "https://cloudburn.io/blog/amazon-sqs-pricing",
        "quote": "Standard $0.40/M (first 100B)",
        "note": "third party (March 2026): 'All prices are for US East (N. Virginia) as of March 2026'; "
        "64 KB chunks per factualminds.com/blog/amazon-sqs-pricing-64kb-rule-fifo-vs-standard/",
    },
    "s3_get": {
        "url": "https://awsi.click/en/articles/s3-request-pricing-get-put-difference/",
        "quote": "GET/SELECT requests cost $0.0004 per 1,000 requests (in us-east-1)",
        "note": "third party; HEAD at the same price per c3x.dev/blog/s3-request-fees-explained "
        "('GET, HEAD, SELECT (Tier 2): $0.0004 per 1,000 requests', region not stated)",
    },
    "s3_put": {
        "url": "https://awsi.click/en/articles/s3-request-pricing-get-put-difference/",
        "quote": "PUT/COPY/POST/LIST requests cost $0.005 per 1,000 requests",
        "note": "third party, us-east-1",
    },
    "sns_publish": {
        "url": "https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/",
        "quote": "$0.50 per million publishes for Standard topics",
        "note": "third party (June 2026), region not stated; free deliveries to SQS and Lambda unconfirmed",
    },
}
MEMORY_GB = 0.5
MODEL_SECONDS = 2.0
#: The caller's receives per result on its reply queue: the callers bench measured 0.15 at 1 caller
#: (results 200/s) and 1.02 at 100 callers (2 results/s each); the worse is priced.
CALLER_RECEIVES_PER_RESULT = 1.0
BATCH = 10


def item_kb(item: dict[str, Any]) -> float:
    """DynamoDB's item size: attribute names plus values (numbers counted generously at 21 bytes)."""

    def size(value: dict[str, Any]) -> int:
        ((kind, inner),) = value.items()
        if kind == "S":
            return len(inner.encode())
        if kind == "B":
            return len(inner)
        if kind == "N":
            return 21
        if kind == "BOOL":
            return 1
        if kind in ("L", "M"):
            items = inner if kind == "L" else inner.values()
            return 3 + sum(1 + size(v) for v in items) + (sum(len(k) for k in inner) if kind == "M" else 0)
        if kind == "SS":
            return sum(len(s.encode()) for s in inner)
        return 0

    return sum(len(name.encode()) + size(value) for name, value in item.items()) / 1024


def result_record(body_bytes: int) -> dict[str, Any]:
    """The result record this project writes for a bench notification with an inline body of ``body_bytes``."""
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.destinations import ResultStore
    from sagemaker_async_results.runtime.envelopes import parse_message
    from sagemaker_async_results.runtime.payloads import LocationGuard, Payload
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import S3Prefix
    from sagemaker_async_results.runtime.testing import notification

    inference_id = "0f3c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
    message = parse_message(
        notification(
            inference_id=inference_id,
            output_location=f"s3://bench-results/async-inference/outputs/{inference_id}.out",
            body=b"x" * body_bytes,
        )
    )
    payload = Payload(
        inline=b"x" * body_bytes,
        location=None,
        guard=LocationGuard((S3Prefix.parse("s3://bench-results/"),)),
        s3_client=lambda: None,  # type: ignore[arg-type,return-value]
        max_bytes=1 << 20,
        inference_id=inference_id,
    )
    result = InferenceResult(message, payload)  # type: ignore[arg-type]
    store = ResultStore(table_name="t", ttl_days=30, clients=Clients())
    values = store.attribute_values(result, result.to_record())
    lock = {
        "pk": {"S": f"result#{inference_id}"},
        "routing": {"S": "Routed"},
        "routedTo": {"L": [{"S": "resultStore"}, {"S": "handlers.example.log_success"}, {"S": "sqs"}]},
        "lockOwner": {"S": "0" * 32},
        "lockExpiresAt": {"N": "0"},
        "routedStatuses": {"SS": ["Completed"]},
        "submittedAt": {"S": "2026-11-23T07:07:52.000Z"},
    }
    return {**values, **lock}


def _units(kb: float) -> int:
    return max(1, math.ceil(kb))


def _baseline_s3(ttr: dict[str, Any] | None) -> dict[str, float]:
    """S3 requests per result of the polling baselines: this run's time-to-result case, else the last run's."""
    rows: list[dict[str, Any]] = []
    if ttr and ttr.get("rows"):
        rows = ttr["rows"]
    else:
        path = ROOT / "bench" / "results" / "latest.json"
        if path.exists():
            rows = json.loads(path.read_text()).get("rows", [])
    found = {"waiter": 3.0, "loop": 2.0, "project_s3": 1.0}
    for row in rows:
        name = row.get("name", "")
        if name.startswith("S3 requests/result: (a)"):
            found["waiter"] = float(row["median"])
        elif name.startswith("S3 requests/result: (b)"):
            found["loop"] = float(row["median"])
    return found


def run(fake: dict[str, Any], ttr: dict[str, Any] | None = None) -> tuple[list[Row], dict[str, Any]]:
    """Rows ($ per million results) and the markdown table, from the fake-AWS run's ``fake`` extra."""
    calls = fake["callsPerResultByOperation"]
    batch_seconds = fake["batchSeconds"]
    s3 = _baseline_s3(ttr)
    small = result_record(60)
    large = result_record(100_000)
    small_units, large_units = _units(item_kb(small)), _units(item_kb(large))

    def lambda_cost(name: str) -> tuple[float, float]:
        seconds = percentile(batch_seconds[name], 50) / BATCH
        return 1 / BATCH, seconds * MEMORY_GB

    lines: list[dict[str, Any]] = []

    def line(name: str, **use: float) -> None:
        usd = (
            use.get("lambda_requests", 0) * PRICES["lambda_request"]
            + use.get("gb_seconds", 0) * PRICES["lambda_gb_second_arm64"]
            + use.get("write_units", 0) * PRICES["dynamodb_write_unit"]
            + use.get("read_units", 0) * PRICES["dynamodb_read_unit"]
            + use.get("sqs_requests", 0) * PRICES["sqs_request"]
            + use.get("s3_gets", 0) * PRICES["s3_get"]
            + use.get("sns_publishes", 0) * PRICES["sns_publish"]
        )
        lines.append(
            {"approach": name, **{k: round(v, 6) for k, v in use.items()}, "usdPerMillion": usd * 1e6}
        )

    project_requests, project_gbs = lambda_cost("project")
    project_calls = calls["project"]
    from sagemaker_async_results.runtime.record_guard import TRANSACTION_MAX_KB

    for label, units in (
        (f"inline body 60 B (record {item_kb(small):.1f} KB)", small_units),
        (f"inline body 100 KB (record {item_kb(large):.0f} KB)", large_units),
    ):
        line(
            f"this project, {label}",
            lambda_requests=project_requests,
            gb_seconds=project_gbs,
            # claim UpdateItem: the record's units; completion: 2x units in the batch's TransactWriteItems,
            # or 1x in its own UpdateItem above TRANSACTION_MAX_KB; the client's Submitted PutItem: 1
            write_units=units + (2 * units if units <= TRANSACTION_MAX_KB else units) + 1,
            # a consistent BatchGetItem of replyTo when the claim's answer did not carry it (a read is
            # charged by the whole item's size, 4 KB per unit, whatever the projection)
            read_units=math.ceil(units / 4) if project_calls.get("BatchGetItem") else 0,
            # SNS -> SQS delivery + the event source's ReceiveMessage and DeleteMessageBatch per batch
            # + the results queue's and the reply queue's SendMessageBatch (one 64 KB chunk per batch of
            # small records; the record sent to the results queue carries no body) + the caller's receives
            sqs_requests=1
            + 2 / BATCH
            + project_calls.get("SendMessageBatch", 0)
            + CALLER_RECEIVES_PER_RESULT,
            sns_publishes=1,
        )
    naive_requests, naive_gbs = lambda_cost("naive")
    line(
        "naive handler (GetObject + SendMessage per record)",
        lambda_requests=naive_requests,
        gb_seconds=naive_gbs,
        sqs_requests=1 + 2 / BATCH + calls["naive"].get("SendMessage", 0),
        s3_gets=calls["naive"].get("GetObject", 0),
        sns_publishes=1,
    )
    line("(a) SDK waiter (HeadObject every 15 s, then GetObject)", s3_gets=s3["waiter"])
    line("(b) docs loop (GetObject every 2 s)", s3_gets=s3["loop"])
    header = (
        "| Approach | Lambda requests | Lambda GB-s | DynamoDB WRU | DynamoDB RRU | SQS requests | S3 GET/HEAD "
        "| SNS publishes | USD per million results |"
    )
    table = [header, "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for entry in lines:
        table.append(
            "| {approach} | {lr:g} | {gbs:.5f} | {w:g} | {r:g} | {q:.2f} | {s3:g} | {sns:g} | ${usd:,.2f} |".format(
                approach=entry["approach"],
                lr=entry.get("lambda_requests", 0),
                gbs=entry.get("gb_seconds", 0),
                w=entry.get("write_units", 0),
                r=entry.get("read_units", 0),
                q=entry.get("sqs_requests", 0),
                s3=entry.get("s3_gets", 0),
                sns=entry.get("sns_publishes", 0),
                usd=entry["usdPerMillion"],
            )
        )
    note = (
        f"Per result; {REGION} list prices, {PRICES_AS_OF} (stored copies, not fetched live; the page behind "
        "each price is in bench/cost.py and the JSON's priceSources); 512 MB arm64 functions, Lambda time = "
        f"the fake-AWS run's median batch time / {BATCH}; buffered "
        f"delivery in full batches of {BATCH}; the caller of this project receives from its reply queue "
        f"({CALLER_RECEIVES_PER_RESULT:g} ReceiveMessage per result, the callers bench's worst) for a "
        f"{MODEL_SECONDS:g} s model run; the polling baselines' requests grow with the model's run time (one per "
        "period) and their caller's compute is not counted; the same for every approach (input upload, "
        "InvokeEndpointAsync, SageMaker, the results queue's consumer) is left out."
    )
    rows = [
        Row.of(
            CASE,
            entry["approach"],
            "USD per million results",
            [entry["usdPerMillion"]],
            note=note if i == 0 else "",
        )
        for i, entry in enumerate(lines)
    ]
    return rows, {
        "lines": lines,
        "prices": PRICES,
        "priceSources": PRICE_SOURCES,
        "pricesAsOf": PRICES_AS_OF,
        "region": REGION,
        "markdown": "\n".join(table),
        "note": note,
    }


def write_markdown(path: Path, extra: dict[str, Any]) -> None:
    path.write_text(extra["markdown"] + "\n\n" + extra["note"] + "\n")
