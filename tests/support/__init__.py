"""What the tests share: constants, the settings every test runs with, and helpers.

- `IMAGE`, `FORM`, `REPO`, `CANFAR_VARIABLES`, `TEST_SETTINGS` (here).
- `tests.support.loopback`: the local platform on a loopback socket (`start_local_server`,
  `LocalServer`) and the clean-up of its processes (`kill_platform_processes`, `pid_alive`,
  `supervisor_pids`).
- `tests.support.api`: plain httpx against a loopback server (`api`, `create`, `wait_for`,
  `wait_until`).
- `tests.support.process`: `canfar` as a real process (`canfar_env`, `run_canfar`).
- `tests.support.commands`: the CLI through the `cli` fixture (`sessions`, `create_done`,
  `ids_of`), and `local serve`'s refusals in-process (`serve_refused_in_process`).
- `tests.support.signin`: the local sign-in services for the sign-in tests
  (`start_signin_platform`, `SigninPlatform`, `point_canfar_at`, `add_users`).
- `tests.support.forkserver`: `canfar local serve` forked from a process that has imported it
  (what `start_local_server` uses unless `forked=False`).
- `tests.support.tiers`: the rule of the two tiers (a test that starts a process is `e2e`) and
  the watch that checks it while the tests run (`shared_processes` for wider-scoped fixtures).
- `tests/support/watched_server.py`: a script serving the local app behind a wire recorder.

Fixtures live in the conftest files (tests/conftest.py: `isolated`, `local_server`,
`serve_local`, `shared_local_server`; tests/cli/conftest.py: `cli`; tests/core/conftest.py:
`watched_server`; tests/local/conftest.py: `client`, `shared_client`).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# A well-formed image from the registry the local platform accepts by default.
IMAGE = "images.canfar.net/skaha/terminal:1.1.1"

# A job's output that is not UTF-8 (Latin-1 and stray bytes, then UTF-8), and a shell script
# that prints it: logs must come back byte for byte.
RAW_LOG = b"caf\xe9 \xff\xfe ok \xe2\x9c\x93\n"
RAW_LOG_SCRIPT = "printf 'caf\\351 \\377\\376 ok \\342\\234\\223\\n'\n"

# A small `/context` for CANFAR_LOCAL_CONTEXT: 1-2 cores and GiB, no GPU, one interactive
# session at a time.
SMALL_CONTEXT = {
    "cores": {"default": 1, "defaultRequest": 1, "defaultLimit": 2, "options": [1, 2]},
    "memoryGB": {"default": 1, "defaultRequest": 1, "defaultLimit": 2, "options": [1, 2]},
    "gpus": {"options": []},
    "maxInteractiveSessions": "1",
}

# The Content-Type of a form-encoded POST.
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# Every setting of canfar and of the local platform read from the environment: the `isolated`
# fixture clears them all, so a developer's own settings never reach a test.
CANFAR_VARIABLES = (
    "CANFAR_URL",
    "CANFAR_TOKEN",
    "CANFAR_CERTIFICATE",
    "CANFAR_TIMEOUT",
    "CANFAR_CONCURRENCY",
    "CANFAR_CONFIG_DIR",
    "CANFAR_POLL_INTERVAL",
    "CANFAR_LOCAL_HOME",
    "CANFAR_LOCAL_USER",
    "CANFAR_LOCAL_CLEANUP",
    "CANFAR_LOCAL_EXPIRY",
    "CANFAR_LOCAL_GRACE",
    "CANFAR_LOCAL_SUPERVISOR_IDLE",
    "CANFAR_LOCAL_TICK",
    "CANFAR_LOCAL_CONTEXT",
    "CANFAR_LOCAL_IMAGES",
    "CANFAR_LOCAL_REGISTRY_HOSTS",
    "CANFAR_LOCAL_TOKEN",
    "CANFAR_LOCAL_PORTABLE",
    "CANFAR_LOCAL_ARC",
    "CANFAR_LOCAL_CORES",
    "CANFAR_LOCAL_RAM",
    "CANFAR_LOCAL_ADMIT",
    "CANFAR_SHARDED_POOLS",
    "CANFAR_LOCAL_ACCESS_TOKEN_SECONDS",
    "CANFAR_LOCAL_REFRESH_TOKEN_SECONDS",
    "CANFAR_LOCAL_DEVICE_CODE_SECONDS",
    "CANFAR_LOCAL_DEVICE_INTERVAL",
    "CANFAR_LOCAL_CERT_SECONDS",
    "CANFAR_LOCAL_SLOW_SECONDS",
    "CANFAR_LOCAL_EXTRA_PLATFORMS",
    "CANFAR_LOCAL_QUOTA",
    "CANFAR_LOCAL_VAULT",
    "CANFAR_LOCAL_VAULT_LAG",
    "CANFAR_LOCAL_PROPS",
    "CANFAR_LOCAL_FAULTS",
    "CANFAR_PLATFORM",
    "CANFAR_CA_BUNDLE",
    "CANFAR_REGISTRY_CADC",
    "CANFAR_REGISTRY_SRCNET",
    "CANFAR_OIDC_ISSUER_SRCNET",
    "CANFAR_CACHE_DIR",
    "CANFAR_REGISTRY_USER",
    "CANFAR_REGISTRY_SECRET",
)

# Settings every test runs with (and every local server a test starts): the waits of a test
# are short, and nothing a test starts outlives it for long.
TEST_SETTINGS = {
    # How often wait/follow/watch loops poll (seconds; the user's default is 1).
    "CANFAR_POLL_INTERVAL": "0.05",
    # How often the local platform's supervisor looks at its jobs (seconds).
    "CANFAR_LOCAL_TICK": "0.02",
    # A test's supervisor (started by its first create) exits 2 s after its last job instead
    # of 30 (2 is the least allowed), so a run does not leave dozens of idle ones behind it.
    "CANFAR_LOCAL_SUPERVISOR_IDLE": "2",
    # The local platform's capacity (default: this machine's cores): large, so tests not about
    # the capacity run their jobs at once on a 2-core machine; the capacity tests set their own.
    "CANFAR_LOCAL_CORES": "1000",
    "CANFAR_LOCAL_RAM": "100000",
}
