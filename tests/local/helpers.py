"""Kept only so tests written before tests/support keep importing (`from .helpers import …`);
new tests import from tests.support. Delete once no test imports it."""

from tests.support import FORM, IMAGE
from tests.support.api import api, create, wait_for, wait_until
from tests.support.loopback import pid_alive, supervisor_pids

__all__ = [
    "FORM",
    "IMAGE",
    "api",
    "create",
    "pid_alive",
    "supervisor_pids",
    "wait_for",
    "wait_until",
]
