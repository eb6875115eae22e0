"""The trivial peer (issue 13): a HealthChain CDS Hooks service whose handler only counts
the Conditions in prefetch. Runs in bench/.peer-venv (`bench/peer/setup.sh`), never in the
service's .venv; bench/run.py starts it with uvicorn like the service, one worker, loopback.

Served paths: /cds/cds-services/idds-order-sign and /cds/cds-services/idds-order-select
(HealthChain's base path), discovery at /cds/cds-discovery.
"""

from healthchain.gateway import CDSHooksService, HealthChainAPI
from healthchain.models import CDSRequest, CDSResponse
from healthchain.models.responses.cdsresponse import Card


def _count_conditions(request: CDSRequest) -> CDSResponse:
    bundle = (request.prefetch or {}).get("conditions") or {}
    n = sum(
        1 for e in bundle.get("entry") or () if (e.get("resource") or {}).get("resourceType") == "Condition"
    )
    return CDSResponse(
        cards=[
            Card(summary=f"{n} condition(s) in prefetch", indicator="info", source={"label": "trivial peer"})
        ]
    )


cds = CDSHooksService()
cds.hook("order-sign", id="idds-order-sign")(_count_conditions)
cds.hook("order-select", id="idds-order-select")(_count_conditions)

app = HealthChainAPI(title="trivial peer")
app.register_service(cds)
