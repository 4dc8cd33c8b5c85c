"""Errors the CLI reports as one clear line (never a traceback)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ProfileNotFound

#: Error codes AWS services answer when the caller's identity lacks a permission.
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "AuthorizationErrorException", "UnrecognizedClientException", "ExpiredTokenException", "InvalidClientTokenId"}
)


class CliError(Exception):
    """An expected failure: ``code`` names its kind for scripts (``--output json``), ``message`` says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def explain(error: Exception) -> CliError:
    """The :class:`CliError` for an exception raised by boto3/botocore (or a CliError itself)."""
    if isinstance(error, CliError):
        return error
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = info.get("Code", "Unknown")
        operation = getattr(error, "operation_name", "the call")
        message = info.get("Message", "")
        if code in ACCESS_DENIED_CODES:
            return CliError("AccessDenied", f"missing permission for {operation}: {message or code}")
        return CliError(code, f"{operation} failed: {code}: {message}")
    if isinstance(error, NoCredentialsError):
        return CliError("NoCredentials", "no AWS credentials found: pass --profile or configure credentials")
    if isinstance(error, NoRegionError):
        return CliError("NoRegion", "no AWS region configured: pass --region")
    if isinstance(error, ProfileNotFound):
        return CliError("ProfileNotFound", str(error))
    if isinstance(error, BotoCoreError):
        return CliError(type(error).__name__, str(error))
    raise error
