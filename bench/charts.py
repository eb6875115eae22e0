"""Realistic hook requests of three sizes, built with tests/chart.py.

One patient with chronic non-malignant pain (post-laminectomy syndrome) who
had an intrathecal morphine trial three weeks ago and is now ordered a
permanent pump. The chart grows with the length of the history: each clinic
visit adds what an EHR really sends — a pain score, vital signs, labs every
few visits, physical-therapy sessions, medication statements (opioid renewals
and unrelated drugs) — so most resources are ones the assessment must skip,
and the ones it reads (NRS, MAS, therapies, opioids) grow with the chart too.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from tests.chart import CPT, LOINC, OBS_CATEGORY, RXNORM, SNOMED, UCUM, Chart, _concept, at, iso

CIGNA = "Cigna Health and Life Insurance Company"
DOS = "2026-09-14"
SIZES = {"small": 30, "typical": 300, "heavy": 3000}

# (LOINC, display, unit, low, high) — vitals and labs the service must ignore.
VITALS = [
    ("8867-4", "Heart rate", "/min", 58, 96),
    ("29463-7", "Body weight", "kg", 70, 92),
    ("8310-5", "Body temperature", "Cel", 36.1, 37.4),
    ("9279-1", "Respiratory rate", "/min", 12, 20),
]
LABS = [
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 5.2, 7.9),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.3),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 11.5, 15.5),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4.0, 10.5),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150, 400),
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 75, 160),
]
OTHER_DRUGS = [
    ("29046", "Lisinopril 10 MG Oral Tablet"),
    ("6809", "Metformin hydrochloride 500 MG Oral Tablet"),
    ("83367", "Atorvastatin 20 MG Oral Tablet"),
    ("7646", "Omeprazole 20 MG Delayed Release Oral Capsule"),
]


def _quantity_obs(
    c: Chart, code: str, display: str, unit: str, value: float, when, category: str
) -> dict[str, Any]:
    obs = {
        "resourceType": "Observation",
        "id": c._id("obs"),
        "status": "final",
        "subject": c._subject(),
        "meta": {"lastUpdated": iso(when)},
        "category": [_concept((OBS_CATEGORY, category, category.title()))],
        "code": _concept((LOINC, code, display), text=display),
        "effectiveDateTime": iso(when),
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }
    c.resources["observations"].append(obs)
    return obs


def _blood_pressure(c: Chart, when, rng: random.Random) -> None:
    c.resources["observations"].append(
        {
            "resourceType": "Observation",
            "id": c._id("bp"),
            "status": "final",
            "subject": c._subject(),
            "category": [_concept((OBS_CATEGORY, "vital-signs", "Vital Signs"))],
            "code": _concept((LOINC, "85354-9", "Blood pressure panel")),
            "effectiveDateTime": iso(when),
            "component": [
                {
                    "code": _concept((LOINC, "8480-6", "Systolic")),
                    "valueQuantity": {
                        "value": rng.randint(110, 150),
                        "unit": "mmHg",
                        "system": UCUM,
                        "code": "mm[Hg]",
                    },
                },
                {
                    "code": _concept((LOINC, "8462-4", "Diastolic")),
                    "valueQuantity": {
                        "value": rng.randint(65, 95),
                        "unit": "mmHg",
                        "system": UCUM,
                        "code": "mm[Hg]",
                    },
                },
            ],
        }
    )


def _other_medication(c: Chart, rxnorm: str, display: str, start: date, end: date) -> None:
    c.resources["medications"].append(
        {
            "resourceType": "MedicationStatement",
            "id": c._id("med"),
            "status": "completed",
            "subject": c._subject(),
            "medicationCodeableConcept": _concept((RXNORM, rxnorm, display), text=display),
            "effectivePeriod": {"start": iso(start), "end": iso(end)},
            "dosage": [
                {
                    "text": f"{display} once daily",
                    "route": _concept((SNOMED, "26643006", "Oral route")),
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                }
            ],
        }
    )


def _visit(c: Chart, day: date, n: int, rng: random.Random) -> None:
    """One clinic visit: pain score, vitals, labs every 4th visit, a PT session or a refill."""
    when = at(day, 9 + rng.random() * 8)
    c.nrs(rng.randint(6, 9), when)
    _blood_pressure(c, when, rng)
    for code, display, unit, lo, hi in VITALS:
        _quantity_obs(c, code, display, unit, round(rng.uniform(lo, hi), 1), when, "vital-signs")
    if n % 4 == 0:
        for code, display, unit, lo, hi in LABS:
            _quantity_obs(c, code, display, unit, round(rng.uniform(lo, hi), 1), when, "laboratory")
    if n % 6 == 0:
        c.score("modified-ashworth", rng.choice(["1", "1+", "2"]), when)
    if n % 3 == 0:
        c.therapy("physical-therapy", day, day + timedelta(days=1), outcome="ineffective")
    if n % 5 == 0:
        c.medication("oxycodone", day, day + timedelta(days=30), fixed=True, reason="ineffective")
    if n % 5 == 2:
        rxnorm, display = OTHER_DRUGS[n % len(OTHER_DRUGS)]
        _other_medication(c, rxnorm, display, day, day + timedelta(days=90))
    if n % 17 == 0:
        c.therapy("chiropractic", day, day, outcome="ineffective")


def build_chart(target: int, seed: int = 7) -> Chart:
    """A chart with about `target` resources (a permanent-implant order after a trial)."""
    rng = random.Random(seed)
    c = Chart(payer=CIGNA, dos=DOS)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    c.condition(icd10="G89.29", display="Other chronic pain")
    c.condition(icd10="E11.9", display="Type 2 diabetes mellitus without complications")
    c.condition(icd10="E78.5", display="Hyperlipidemia, unspecified")
    c.allergy("tramadol")
    c.therapy("physical-therapy", c.days_before(420), c.days_before(120), outcome="ineffective")
    c.medication("oxycodone", c.days_before(420), c.days_before(15), fixed=True, reason="ineffective")
    c.medication("gabapentin", c.days_before(400), c.days_before(20), fixed=True, reason="ineffective")
    c.flag("further-surgery-not-indicated", True)
    c.psych("favorable")
    c.flag("opioid-reduction-agreed", True)
    trial = at(c.days_before(20), 8)
    c.nrs(8, trial - timedelta(hours=2))
    c.trial(trial, drug="morphine")
    for hours, score in ((2, 3), (6, 2), (13, 2), (24, 3)):
        c.nrs(score, trial + timedelta(hours=hours))
    c.trial_flag("trial-function-improved", True, trial + timedelta(hours=14))
    c.order("62362")
    day = c.days_before(40)
    n = 1
    while count(c) < target:
        _visit(c, day, n, rng)
        day -= timedelta(days=7 if n % 2 else 6)
        n += 1
    return c


def count(c: Chart) -> int:
    return 1 + sum(len(v) for v in c.resources.values()) + len(c.draft)


def requests() -> dict[str, dict[str, Any]]:
    """name → (hook request dict); the chart sizes of SIZES."""
    return {name: build_chart(n).request("order-sign") for name, n in SIZES.items()}


def comparison_request(target: int = 3000) -> dict[str, Any]:
    """The heavy chart with a payer that has no policy: every policy is assessed."""
    c = build_chart(target)
    for cov in c.resources["coverage"]:
        cov["payor"] = [{"display": "Acme Health Plan"}]
        cov["class"] = []
    return c.request("order-sign")


def irrelevant_request(target: int = 300, hook: str = "order-select") -> dict[str, Any]:
    """The same chart, the order a comprehensive metabolic panel: nothing any policy concerns."""
    c = build_chart(target)
    lab = next(r for r in c.draft if r["resourceType"] == "ServiceRequest")
    lab["code"] = _concept((CPT, "80053", "Comprehensive metabolic panel"))
    return c.request(hook)
