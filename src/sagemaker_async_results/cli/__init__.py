"""The ``async-results`` command line (extra ``[cli]``; ``serve`` and ``demo`` need ``[local]``).

``async-results --help`` lists the commands and the exit codes
(:class:`~sagemaker_async_results.cli.exit_codes.ExitCode`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sagemaker_async_results.cli.exit_codes import ExitCode


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``async-results`` console script; exits with an :class:`ExitCode`."""
    try:
        from sagemaker_async_results.cli.commands import cli
    except ImportError as error:
        print(
            f"async-results needs the [cli] extra ({error.name} is missing): "
            "pip install 'sagemaker-async-results[cli]'",
            file=sys.stderr,
        )
        sys.exit(ExitCode.MISSING_EXTRA)
    cli.main(args=list(argv) if argv is not None else None, prog_name="async-results")
