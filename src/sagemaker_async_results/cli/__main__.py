"""``python -m sagemaker_async_results.cli`` is the ``async-results`` command."""

from sagemaker_async_results.cli import main

main()
