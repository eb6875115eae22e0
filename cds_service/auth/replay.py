"""The replay guard: a token's `jti` is accepted once, by whichever worker or host sees it first."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..settings import Settings
from ..state import state_for


class ReplayGuard:
    """(iss, jti) pairs seen, in the database every worker shares (cds_service/state/), each
    kept until its token has expired: a token accepted by one worker or host is refused by
    every other, and after a restart. The insert-if-absent is atomic in the database."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.clock = clock

    def first_use(self, key: tuple[str, str], until: float) -> bool:
        return state_for(self.settings).first_use(key, until, self.clock())
