"""The fallback peer when HealthChain cannot be installed: the same trivial handler (count the
Conditions in prefetch) on plain FastAPI, run from the service's .venv (bench/peer.py)."""

from typing import Any

from fastapi import FastAPI

app = FastAPI(title="trivial peer")


@app.get("/cds-services")
async def discovery() -> dict[str, Any]:
    return {
        "services": [
            {"hook": h, "id": f"idds-{h}", "description": "trivial peer"}
            for h in ("order-sign", "order-select")
        ]
    }


@app.post("/cds-services/{service_id}")
async def hook(service_id: str, body: dict[str, Any]) -> dict[str, Any]:
    bundle = (body.get("prefetch") or {}).get("conditions") or {}
    n = sum(
        1 for e in bundle.get("entry") or () if (e.get("resource") or {}).get("resourceType") == "Condition"
    )
    return {
        "cards": [
            {
                "summary": f"{n} condition(s) in prefetch",
                "indicator": "info",
                "source": {"label": "trivial peer"},
            }
        ]
    }
