"""AWS access for the command line: sessions, clients that fail fast, and one-line error messages.

The command line talks to real AWS or any AWS-compatible endpoint with the AWS CLI's habits (``--region``,
``--profile``, ``--endpoint-url``, the usual environment variables). Every AWS failure is turned into a
:class:`CliError` with an exit code from :class:`~sagemaker_async_results.cli.exit_codes.ExitCode`, so a
missing region, missing credentials or a dead endpoint never print a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sagemaker_async_results.cli.exit_codes import ExitCode

#: Error codes with which AWS rejects credentials (as opposed to refusing an action).
_CREDENTIAL_ERROR_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AuthFailure",
        "InvalidSignatureException",
    }
)


class CliError(Exception):
    """A failure the command reports in one line on stderr, with its own exit code."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def client_config(*, connect_timeout: float = 5, read_timeout: float = 60, attempts: int = 2) -> Any:
    """botocore settings that give up quickly on an unreachable endpoint instead of retrying for long."""
    from botocore.config import Config

    return Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": attempts, "mode": "standard"},
    )


@dataclass(frozen=True)
class AwsOptions:
    """The global AWS options of the command line."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    def session(self) -> Any:
        """A boto3 session with a region; raises :class:`CliError` when no region is configured."""
        import boto3

        try:
            # boto3 reads AWS_DEFAULT_REGION only; AWS_REGION is what the AWS CLI v2, the other SDKs and
            # Lambda set, and what this tool's own messages tell users to set.
            region = self.region or os.environ.get("AWS_REGION") or None
            session = boto3.Session(profile_name=self.profile, region_name=region)
            region = session.region_name
        except Exception as error:
            raise as_cli_error(error) from None
        if not region:
            raise CliError(
                ExitCode.NO_REGION,
                "no AWS region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), "
                "or run `aws configure`",
            )
        return session

    def client(self, session: Any, service: str, **config: Any) -> Any:
        """A boto3 client of ``session`` for ``service``, with ``--endpoint-url`` and fast-fail settings."""
        kwargs: dict[str, Any] = {"config": client_config(**config)}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        try:
            return session.client(service, **kwargs)
        except Exception as error:
            raise as_cli_error(error) from None

    def require_credentials(self, session: Any) -> None:
        """Fail with :attr:`ExitCode.NO_CREDENTIALS` before any call when boto3 finds no credentials."""
        try:
            credentials = session.get_credentials()
        except Exception as error:
            raise as_cli_error(error) from None
        if credentials is None:
            where = f"profile {self.profile!r}" if self.profile else "the environment, ~/.aws or a role"
            raise CliError(
                ExitCode.NO_CREDENTIALS,
                f"no AWS credentials found in {where}: run `aws configure` (or `aws sso login`), "
                "or export AWS_PROFILE / AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            )


def as_cli_error(error: BaseException) -> CliError:
    """The one-line message and exit code of an exception raised while talking to AWS."""
    from botocore import exceptions as bx

    if isinstance(error, CliError):
        return error
    if isinstance(error, bx.NoRegionError):
        return CliError(ExitCode.NO_REGION, "no AWS region: pass --region or set AWS_REGION")
    if isinstance(error, bx.ProfileNotFound):
        return CliError(
            ExitCode.NO_CREDENTIALS,
            f"{error}: check --profile / AWS_PROFILE against `aws configure list-profiles`",
        )
    if isinstance(
        error,
        bx.NoCredentialsError
        | bx.PartialCredentialsError
        | bx.CredentialRetrievalError
        | bx.TokenRetrievalError,
    ):
        return CliError(ExitCode.NO_CREDENTIALS, f"{error}: run `aws configure` or `aws sso login`")
    if isinstance(
        error,
        bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ConnectionClosedError | bx.ReadTimeoutError,
    ):
        return CliError(ExitCode.UNREACHABLE, f"cannot reach AWS: {error}")
    if isinstance(error, bx.ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", "Unknown"))
        operation = getattr(error, "operation_name", "") or "call"
        message = f"{operation} failed: {code}: {details.get('Message', '')}".rstrip(": ")
        if code in _CREDENTIAL_ERROR_CODES:
            return CliError(ExitCode.NO_CREDENTIALS, f"AWS rejected the credentials: {message}")
        return CliError(ExitCode.AWS_ERROR, message)
    if isinstance(error, bx.BotoCoreError):
        return CliError(ExitCode.AWS_ERROR, str(error))
    raise error
