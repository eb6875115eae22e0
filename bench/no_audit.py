"""The app without its audit-trail middleware, for one diagnostic table of the benchmark.

It shows what recording each call costs end to end; it is never a
configuration to deploy (an answered call must be a recorded call).
"""

from __future__ import annotations

import cds_service.audit as audit

audit.install = lambda app: None  # type: ignore[assignment]

from cds_service.app import create_app  # noqa: E402

app = create_app()
