"""Receive Amazon SageMaker asynchronous inference results: exactly once, nothing lost.

One distribution, four parts, each imported on its own so that each user loads only what they need:

* :mod:`sagemaker_async_results.runtime` — the Lambda result-handler runtime and its plugin ``Router``
  (needs only what the Lambda function bundles: Powertools, pydantic, boto3);
* :mod:`sagemaker_async_results.client` — submit inferences and await results without polling S3;
* :mod:`sagemaker_async_results.cdk` — the ``AsyncInferenceResults`` construct (extra ``[cdk]``);
* :mod:`sagemaker_async_results.local` — the local run on an embedded AWS (extra ``[local]``).

Importing this package imports nothing else: it is the root of the Lambda code asset too, where every
millisecond of cold start counts.
"""

__version__ = "0.2.0"
