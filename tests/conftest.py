import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Tests never write into the repository's own audit database.
os.environ.setdefault(
    "IDDS_DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='idds-test-audit-')}/audit.sqlite"
)
