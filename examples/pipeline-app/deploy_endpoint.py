"""Deploy an async endpoint with the SageMaker Python SDK (v2 or v3) that delivers to the pipeline.

What a notebook does once the pipeline stack is deployed (or ``async-results serve`` runs it locally):

    async-results config --format sdk-v2 > async_inference_config.py   # or sdk-v3 with SDK v3
    python deploy_endpoint.py --endpoint-name my-endpoint --image <ECR image> --role <execution role ARN> \\
        --bucket <a bucket of yours for the SDK's uploads>

The printed ``async_inference_config`` is imported as is: the endpoint writes its outputs where the
pipeline reads them and publishes to its topics, so the pipeline's handlers get every result. The script
then submits one request with ``predict_async`` / ``invoke_async`` and prints a JSON line with the
inference ID and output location.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import uuid
from typing import Any

from async_inference_config import async_inference_config  # printed by `async-results config`

INSTANCE_TYPE = "ml.m5.xlarge"


def deploy_v2(args: argparse.Namespace, body: bytes) -> dict[str, Any]:
    """SDK v2: ``Model.deploy(async_inference_config=...)`` returns an ``AsyncPredictor``."""
    import sagemaker
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import IdentitySerializer

    # default_bucket: where predict_async uploads inputs (without it the SDK creates one through STS).
    session = sagemaker.Session(default_bucket=args.bucket, default_bucket_prefix=args.prefix)
    model = Model(
        image_uri=args.image,
        role=args.role,
        sagemaker_session=session,
        name=f"{args.endpoint_name}-model",
        predictor_cls=Predictor,  # without it deploy() returns no predictor
    )
    predictor = model.deploy(
        initial_instance_count=1,
        instance_type=INSTANCE_TYPE,
        endpoint_name=args.endpoint_name,
        async_inference_config=async_inference_config,
        serializer=IdentitySerializer("application/json"),
    )
    inference_id = f"sdk-v2-{uuid.uuid4().hex[:12]}"
    response = predictor.predict_async(data=body, inference_id=inference_id)
    return {"inferenceId": inference_id, "outputLocation": response.output_path}


def deploy_v3(args: argparse.Namespace, body: bytes) -> dict[str, Any]:
    """SDK v3: the same model through ``sagemaker.core``'s resources, async config from the snippet."""
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.serve.model_builder import ModelBuilder

    session = Session(default_bucket=args.bucket, default_bucket_prefix=args.prefix)
    builder = ModelBuilder(
        image_uri=args.image, role_arn=args.role, sagemaker_session=session, instance_type=INSTANCE_TYPE
    )
    builder.build(model_name=f"{args.endpoint_name}-model")
    endpoint = builder.deploy(
        endpoint_name=args.endpoint_name,
        initial_instance_count=1,
        instance_type=INSTANCE_TYPE,
        inference_config=async_inference_config,
    )
    key = f"{args.prefix}/{uuid.uuid4().hex}.json"
    session.boto_session.client("s3").put_object(Bucket=args.bucket, Key=key, Body=body)
    inference_id = f"sdk-v3-{uuid.uuid4().hex[:12]}"
    response = endpoint.invoke_async(
        input_location=f"s3://{args.bucket}/{key}", content_type="application/json", inference_id=inference_id
    )
    return {"inferenceId": inference_id, "outputLocation": response.output_location}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--image", required=True, help="the model's container image URI")
    parser.add_argument("--role", required=True, help="the execution role ARN (with the pipeline's grants)")
    parser.add_argument("--bucket", required=True, help="where the SDK uploads request inputs")
    parser.add_argument("--prefix", default="async-inference/inputs", help="key prefix of the uploads")
    parser.add_argument("--body", default='{"inputs": "a fine day"}')
    args = parser.parse_args()
    major = importlib.metadata.version("sagemaker").split(".", 1)[0]
    deploy = deploy_v2 if major == "2" else deploy_v3
    result = deploy(args, args.body.encode())
    # On a line of its own: the SDK v2 prints its deploy progress ("---!") without a newline.
    print("\n" + json.dumps({"sdk": importlib.metadata.version("sagemaker"), **result}), flush=True)


if __name__ == "__main__":
    main()
