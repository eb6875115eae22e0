"""/docs with no internet: Swagger UI's files come from the swagger-ui-bundle package, served
under /docs/assets, and the page runs no inline script. The OpenAPI document names the hook
request body (HookRequest), which the hook route reads itself (bounded, streamed) and so
FastAPI cannot infer. ReDoc (CDN-only) is not offered.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from .hook_models import Feedback, HookRequest

HOOK_PATH = "/cds-services/{service_id}"
FEEDBACK_PATH = "/cds-services/{service_id}/feedback"
ASSETS = "/docs/assets"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} – API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>
"""
INIT = """window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});
"""


def _body(model: Any, schema: dict[str, Any]) -> dict[str, Any]:
    defs = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, sub in defs.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault(model.__name__, defs)
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
    }


def install(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(PAGE.format(title=app.title, assets=ASSETS))

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(INIT, media_type="text/javascript")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            for path, model in ((HOOK_PATH, HookRequest), (FEEDBACK_PATH, Feedback)):
                operation = schema.get("paths", {}).get(path, {}).get("post")
                if operation is not None:
                    operation["requestBody"] = _body(model, schema)
            app.openapi_schema = schema
        return app.openapi_schema

    # FastAPI's documented way to extend the schema ("Extending OpenAPI"); mypy sees a method.
    app.openapi = openapi  # type: ignore[method-assign]
