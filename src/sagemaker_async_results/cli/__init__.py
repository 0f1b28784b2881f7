"""The ``async-results`` command line (extra ``[cli]``; ``serve`` and ``demo`` need ``[local]``)."""

from __future__ import annotations

import sys


def main() -> None:
    """Entry point of the ``async-results`` console script."""
    if len(sys.argv) > 1 and sys.argv[1] in ("serve", "demo"):
        from sagemaker_async_results.cli.local_commands import main as local_main

        sys.exit(local_main())
    from sagemaker_async_results.cli.client_commands import main as client_main

    client_main()
