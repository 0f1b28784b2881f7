"""A Step Functions task token longer than CustomAttributes allows: the client keeps it in the request's
Submitted record, the callback finds it there by inference ID; the short ``taskToken=`` form still works."""

from __future__ import annotations

import json
from typing import Any

from conftest import BUCKET, OUTPUTS, TABLE, Aws

from sagemaker_async_results.client import AsyncInferenceClient, StackResources
from sagemaker_async_results.runtime import entrypoint
from sagemaker_async_results.runtime.testing import lambda_context, notification, sqs_event


class Endpoint:
    def invoke_endpoint_async(self, **request: Any) -> dict[str, str]:
        self.request = request
        return {
            "InferenceId": request["InferenceId"],
            "OutputLocation": f"{OUTPUTS}{request['InferenceId']}.out",
        }


def test_long_token_from_the_submitted_record_and_short_token_from_the_attributes(aws: Aws) -> None:
    aws.watch_step_functions()
    endpoint = Endpoint()
    client = AsyncInferenceClient(
        StackResources(endpoint_name="ep", bucket=BUCKET, input_prefix="in/", results_table=TABLE),
        s3=aws.s3,
        sagemaker_runtime=endpoint,
        dynamodb=aws.dynamodb,
    )
    token = "AAAA" + "x" * 2044
    client.invoke(b"{}", inline=True, inference_id="sf-long", task_token=token)
    long_one = notification(
        inference_id="sf-long",
        output_location=aws.put_output("sf-long.out", b'{"score": 2}'),
        custom_attributes=endpoint.request["CustomAttributes"],
    )
    failed_short = notification(
        inference_id="sf-short",
        status="Failed",
        failure_reason="ModelError: x",
        custom_attributes="taskToken=BBBB",
    )
    response = entrypoint.handler(sqs_event([long_one, failed_short]), lambda_context())
    assert response == {"batchItemFailures": []}
    calls = dict(aws.sfn_calls)
    assert calls["SendTaskSuccess"]["taskToken"] == token
    assert json.loads(calls["SendTaskSuccess"]["output"])["body"] == {"score": 2}
    assert calls["SendTaskFailure"]["taskToken"] == "BBBB"
    assert "stepFunctions" in (aws.record("sf-long") or {})["routedTo"]
