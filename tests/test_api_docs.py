"""/docs works with no internet: every asset it loads is served by the service itself; the hook bodies are in OpenAPI."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings


def client(tmp_path) -> TestClient:
    return TestClient(create_app(Services.load(Settings(database_url=f"sqlite:///{tmp_path / 'a.sqlite'}"))))


def test_the_docs_page_loads_only_from_the_service_itself(tmp_path):
    c = client(tmp_path)
    page = c.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(u.startswith("/") for u in urls)  # no CDN, no other host
    assert "<script>" not in page.text  # no inline script
    for url in urls:
        r = c.get(url)
        assert r.status_code == 200 and len(r.content) > 100, url
    assert "SwaggerUIBundle" in c.get("/docs/assets/swagger-ui-bundle.js").text
    assert '"/openapi.json"' in c.get("/docs/init.js").text


def test_the_openapi_document_describes_the_hook_request_and_response(tmp_path):
    doc = client(tmp_path).get("/openapi.json").json()
    hook = doc["paths"]["/cds-services/{service_id}"]["post"]
    assert hook["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HookRequest"
    }
    assert "HookResponse" in str(hook["responses"]["200"])
    schemas = doc["components"]["schemas"]
    assert {"hook", "hookInstance", "context"} <= set(schemas["HookRequest"]["properties"])
    feedback = doc["paths"]["/cds-services/{service_id}/feedback"]["post"]
    assert feedback["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Feedback"
    }
    for ref in re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', __import__("json").dumps(doc)):
        assert ref in schemas  # every reference resolves
