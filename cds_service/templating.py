"""The one Jinja2 environment for every HTML page the service serves (checklist, summary,
documentation form, policy pages). Autoescape is on for every template, so a value from a
chart, a policy file or a query string is escaped by the template engine, never by hand;
CSS and JavaScript are static files under `cds_service/static/`, served at `/static`, so the
pages' Content-Security-Policy needs no inline script or style."""

from pathlib import Path

import jinja2
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

PACKAGE = Path(__file__).parent
TEMPLATES_DIR = PACKAGE / "templates"
STATIC_DIR = PACKAGE / "static"
STATIC_PATH = "/static"
# What a page showing a patient's chart is answered with: never cached, its URL never sent on.
NO_STORE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every template, whatever its file name
        undefined=jinja2.StrictUndefined,  # a misspelt variable is an error, not an empty cell
    )
)


def static_files() -> StaticFiles:
    """The app mounts this at STATIC_PATH."""
    return StaticFiles(directory=STATIC_DIR)
