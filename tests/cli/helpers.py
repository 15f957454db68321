"""Kept only so tests written before tests/support keep importing (`from .helpers import …`,
`from tests.cli.helpers import …`); new tests import from tests.support. Delete once no test
imports it."""

from tests.support import IMAGE, REPO
from tests.support.process import canfar_env, run_canfar

__all__ = ["IMAGE", "REPO", "canfar_env", "run_canfar"]
