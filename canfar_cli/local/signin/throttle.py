"""Limits of the local sign-in services, as real identity services have them.

- Passwords: after `SLOW_AFTER` wrong tries for one user name within `WINDOW` seconds, each
  further answer is delayed (one more second a try); after `REFUSE_AFTER`, every try for that
  name (right or wrong) is refused with 429 and Retry-After until the window has passed.
- Client registration (open, as RFC 7591 allows): a body of at most `MAX_REGISTRATION` bytes,
  and at most `REGISTRATIONS_PER_MINUTE` clients a minute, else 429 with Retry-After.

Kept in the serving process's memory: a restart forgets (as a real service's would not, which
the tests of these limits do not need).
"""

from __future__ import annotations

import threading
import time
from collections import deque

WINDOW = 600.0
SLOW_AFTER = 3
SLOW_STEP = 0.5  # seconds more for each wrong try past SLOW_AFTER
REFUSE_AFTER = 6
MAX_REGISTRATION = 8192
REGISTRATIONS_PER_MINUTE = 30


class Throttle:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}
        self._registrations: deque[float] = deque()

    def _recent(self, user: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(user.lower(), deque())
        while failures and now - failures[0] > WINDOW:
            failures.popleft()
        return failures

    def password_wait(self, user: str) -> float | None:
        """Seconds until `user` may try again (None: now)."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent(user, now)
            if len(failures) >= REFUSE_AFTER:
                return max(1.0, WINDOW - (now - failures[0]))
        return None

    def failed(self, user: str) -> float:
        """Count a wrong password; the delay (seconds) to answer it with."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent(user, now)
            failures.append(now)
            return SLOW_STEP * max(0, len(failures) - SLOW_AFTER)

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(user.lower(), None)

    def registration_wait(self) -> float | None:
        """Seconds until another client may register (None: now, and it is counted)."""
        now = time.monotonic()
        with self._lock:
            while self._registrations and now - self._registrations[0] > 60:
                self._registrations.popleft()
            if len(self._registrations) >= REGISTRATIONS_PER_MINUTE:
                return max(1.0, 60 - (now - self._registrations[0]))
            self._registrations.append(now)
        return None
