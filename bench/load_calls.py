"""The load test's calls (bench/audit_load.py): realistic charts built with tests/chart.py and
serialised once, so the client costs little CPU, and an EHR of our own that signs caller JWTs
(ES384) for `--auth`."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from tests.chart import ICD10, Chart  # noqa: E402

# -- realistic calls --------------------------------------------------------------------------


def _replacement() -> Chart:
    c = Chart(payer="Cigna Healthcare")
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362")
    return c


def _permanent_comparison() -> Chart:
    c = Chart(payer=None)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    c.nrs(8, c.days_before(60))
    c.therapy("physical-therapy", c.days_before(420), c.days_before(120), outcome="ineffective")
    c.medication("oxycodone", c.days_before(420), c.days_before(15), fixed=True, reason="ineffective")
    c.flag("further-surgery-not-indicated", True)
    c.psych("favorable")
    c.trial(c.days_before(21), drug="morphine")
    c.trial_relief(70, hours=12, when=c.days_before(20))
    c.order("62350", reason_icd10="M96.1")
    return c


def _spasticity_trial() -> Chart:
    c = Chart(payer="Molina Healthcare")
    c.condition(icd10="G80.1", display="Spastic diplegic cerebral palsy")
    c.score("modified-ashworth", "3", c.days_before(20))
    c.medication("baclofen", c.days_before(300), c.days_before(30), fixed=True, reason="ineffective")
    c.order("62322", drug="baclofen")
    return c


def _nia_infection() -> Chart:
    c = Chart(payer="Magellan Healthcare")
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    c.condition(icd10="A41.9", display="Sepsis, unspecified organism")
    c.flag("body-habitus-adequate", True)
    c.pump("malfunction")
    order = c.order("62362")
    order["reasonCode"] = [{"coding": [{"system": ICD10, "code": "M96.1"}]}]
    return c


def _long_history() -> Chart:
    """Two years of monthly visits: scores, vitals, renewals; most of it irrelevant to the policy."""
    c = _permanent_comparison()
    c.coverage("UnitedHealthcare Oxford")
    for month in range(24):
        day = c.days_before(30 * month + 5)
        c.nrs(7 + month % 3, day)
        c.flag("functional-impairment", True, day)
        c.medication("gabapentin", c.days_before(30 * month + 30), day, fixed=True, reason=None)
    return c


def call_templates() -> list[tuple[str, bytes]]:
    """(hook, body with the hookInstance as a placeholder), pre-serialised so the client costs little CPU."""
    out = []
    for make in (_replacement, _permanent_comparison, _spasticity_trial, _nia_infection, _long_history):
        for hook in ("order-sign", "order-sign", "order-select"):
            body = make().request(hook=hook)
            body["hookInstance"] = "@@HOOK_INSTANCE@@"
            out.append((hook, orjson.dumps(body)))
    return out


# -- optional caller authentication -------------------------------------------------------------


class Signer:
    """An EHR of our own: an ES384 key, listed in a temporary trusted-issuers file."""

    ISS = "https://load-test-ehr.invalid"

    def __init__(self, directory: Path):
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec
        from jwt.algorithms import ECAlgorithm

        self._jwt = jwt
        self.key = ec.generate_private_key(ec.SECP384R1())
        public = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True) | {
            "kid": "load-1",
            "use": "sig",
            "alg": "ES384",
        }
        self.issuers_file = directory / "trusted-issuers.yaml"
        self.issuers_file.write_text(
            json.dumps({"issuers": [{"iss": self.ISS, "algorithms": ["ES384"], "jwks": {"keys": [public]}}]})
        )

    def header(self, audience: str) -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": self.ISS,
            "aud": audience,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
            "sub": "load",
        }
        return {
            "Authorization": "Bearer "
            + self._jwt.encode(claims, self.key, algorithm="ES384", headers={"kid": "load-1"})
        }
