"""Fixtures of the CLI tests (defined in cli_support, beside the helpers the tests import)."""

from tests.cli.cli_support import deployed, run  # noqa: F401 (fixtures)
