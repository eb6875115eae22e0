"""Builds realistic FHIR R4 charts and hook requests for tests and sandbox examples.

Resources carry several codings, display text, meta and references like an
EHR would send, and every chart includes resources the assessment must ignore
(blood pressure, hypertension, a colonoscopy, an old flu shot note). The
builder is deliberately independent of the service's own mapping files: codes
are written out here as an EHR would send them.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
UCUM = "http://unitsofmeasure.org"
IDDS = "http://idds-cds.org/fhir/CodeSystem/idds"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
COND_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
SOPT = "https://nahdo.org/sopt"  # Source of Payment Typology, as US Core binds Coverage.type
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"

# name → (ingredient RxNorm, a clinical-drug RxNorm or None, display)
DRUGS = {
    "morphine": ("7052", None, "Morphine sulfate 15 MG Extended Release Oral Tablet"),
    "oxycodone": ("7804", "1049621", "Oxycodone Hydrochloride 5 MG Oral Tablet"),
    "hydromorphone": ("3423", None, "Hydromorphone 2 MG Oral Tablet"),
    "tramadol": ("10689", "835603", "Tramadol Hydrochloride 50 MG Oral Tablet"),
    "gabapentin": ("25480", "310431", "Gabapentin 300 MG Oral Capsule"),
    "duloxetine": ("72625", None, "Duloxetine 60 MG Delayed Release Oral Capsule"),
    "baclofen": ("1292", None, "Baclofen 10 MG Oral Tablet"),
    "tizanidine": ("57258", None, "Tizanidine 4 MG Oral Tablet"),
    "codeine": ("2670", None, "Codeine sulfate 30 MG Oral Tablet"),
    "ziconotide": (None, None, "Ziconotide (Prialt) intrathecal infusion"),
    "bupivacaine": ("1815", None, "Bupivacaine 0.5 % Injectable Solution"),
    "clonidine": ("2599", None, "Clonidine 100 MCG/ML Injectable Solution"),
    "methylprednisolone": ("6902", None, "Methylprednisolone acetate 80 MG/ML Injectable Suspension"),
    "nusinersen": (None, None, "Nusinersen (Spinraza) 12 MG intrathecal"),
    "methotrexate": ("6851", None, "Methotrexate 25 MG/ML Injectable Solution"),
}
NUCC = "http://nucc.org/provider-taxonomy"
# evaluator → the NUCC taxonomy specialty an EHR records on the evaluator's PractitionerRole
EVALUATORS = {
    "psychologist": (NUCC, "103TC0700X", "Psychologist, Clinical"),
    "psychiatrist": (NUCC, "2084P0800X", "Psychiatry & Neurology, Psychiatry"),
    "clinical-social-worker": (NUCC, "1041C0700X", "Social Worker, Clinical"),
    "family-physician": (NUCC, "207Q00000X", "Family Medicine"),
    "pain-physician": (NUCC, "208VP0000X", "Pain Medicine"),
    "orthopaedic-surgeon": (NUCC, "207X00000X", "Orthopaedic Surgery"),
    "registered-nurse": (NUCC, "163W00000X", "Registered Nurse"),
    "physical-therapist": (NUCC, "225100000X", "Physical Therapist"),
    "chiropractor": (NUCC, "111N00000X", "Chiropractor"),
}
THERAPY_CODES = {
    "physical-therapy": [
        (SNOMED, "91251008", "Physical therapy procedure"),
        (CPT, "97110", "Therapeutic exercises"),
    ],
    "home-exercise-program": [(IDDS, "home-exercise-program", "Home exercise program")],
    "chiropractic": [(CPT, "98941", "Chiropractic manipulative treatment; spinal, 3-4 regions")],
    "inactive-conservative-care": [(IDDS, "inactive-conservative-care", "Rest, ice, heat, bracing")],
    "behavioral-health-treatment": [
        (IDDS, "behavioral-health-treatment", "Cognitive behavioural therapy for pain")
    ],
}


def iso(d: date | datetime) -> str:
    if isinstance(d, datetime):
        return d.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return d.isoformat()


def at(d: date, hour: float = 9.0) -> datetime:
    """A moment on day `d`, `hour` hours after midnight UTC."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(hours=hour)


def _concept(*codings: tuple[str, str, str], text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": s, "code": c, "display": d} for s, c, d in codings]}
    if text:
        out["text"] = text
    return out


class Chart:
    def __init__(
        self,
        dos: str | date = "2026-09-14",
        birth_date: str = "1968-03-02",
        payer: str | None = "Cigna Health and Life Insurance Company",
        patient_id: str = "pat-1",
    ):
        self.dos = date.fromisoformat(dos) if isinstance(dos, str) else dos
        self.patient_id = patient_id
        self._ids = itertools.count(1)
        self.resources: dict[str, list[dict[str, Any]]] = {
            k: []
            for k in (
                "coverage",
                "conditions",
                "observations",
                "medications",
                "procedures",
                "devices",
                "allergies",
                "questionnaireResponses",
            )
        }
        self.patient = {
            "resourceType": "Patient",
            "id": patient_id,
            "meta": {"lastUpdated": "2026-01-05T10:00:00Z"},
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.1", "value": "999-00-1234"}],
            "name": [{"family": "Testpatient", "given": ["Alex"]}],
            "gender": "female",
            "birthDate": birth_date,
        }
        self.draft: list[dict[str, Any]] = []
        if payer:
            self.coverage(payer)
        self._irrelevant()

    # -- helpers ------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    def _subject(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.patient_id}"}

    def days_before(self, n: int) -> date:
        return self.dos - timedelta(days=n)

    def _irrelevant(self) -> None:
        self.resources["conditions"].append(
            {
                "resourceType": "Condition",
                "id": self._id("cond"),
                "subject": self._subject(),
                "clinicalStatus": _concept((COND_CLINICAL, "active", "Active")),
                "code": _concept(
                    (ICD10, "I10", "Essential (primary) hypertension"),
                    (SNOMED, "38341003", "Hypertensive disorder"),
                ),
            }
        )
        self.resources["observations"].append(
            {
                "resourceType": "Observation",
                "id": self._id("bp"),
                "status": "final",
                "subject": self._subject(),
                "category": [_concept((OBS_CATEGORY, "vital-signs", "Vital Signs"))],
                "code": _concept((LOINC, "85354-9", "Blood pressure panel")),
                "effectiveDateTime": iso(at(self.days_before(30))),
                "component": [
                    {
                        "code": _concept((LOINC, "8480-6", "Systolic")),
                        "valueQuantity": {"value": 128, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
                    },
                    {
                        "code": _concept((LOINC, "8462-4", "Diastolic")),
                        "valueQuantity": {"value": 82, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
                    },
                ],
            }
        )
        self.resources["procedures"].append(
            {
                "resourceType": "Procedure",
                "id": self._id("proc"),
                "status": "completed",
                "subject": self._subject(),
                "code": _concept(
                    (CPT, "45378", "Colonoscopy, diagnostic"), (SNOMED, "73761001", "Colonoscopy")
                ),
                "performedDateTime": iso(at(self.days_before(700))),
            }
        )

    # -- administrative -----------------------------------------------------
    def coverage(
        self,
        payer: str | None,
        status: str = "active",
        *,
        start: str | date | None = None,
        end: str | date | None = None,
        order: int | None = None,
        plan: str | None = None,
        type_code: tuple[str, str, str] | None = None,
        payor_id: str | None = None,
        beneficiary: str | None = None,
        subscriber: str | None = None,
        group: str | None = None,
    ) -> dict[str, Any]:
        """A Coverage as an EHR sends it: payor display (and identifier), a plan class, optionally
        a group class, a Coverage.type (system, code, display), a period, an order."""
        cov: dict[str, Any] = {
            "resourceType": "Coverage",
            "id": self._id("cov"),
            "status": status,
            "beneficiary": {"reference": f"Patient/{beneficiary}"} if beneficiary else self._subject(),
            "payor": [{"display": payer} if payer else {"reference": "Organization/org-payer"}],
            "class": [
                {
                    "type": _concept((COVERAGE_CLASS, "plan", "Plan")),
                    "value": "PLAN-01",
                    "name": plan if plan is not None else f"{payer} PPO",
                }
            ],
        }
        if payor_id:
            cov["payor"][0]["identifier"] = {"system": "http://hl7.org/fhir/sid/us-npi", "value": payor_id}
        if group:
            cov["class"].append(
                {"type": _concept((COVERAGE_CLASS, "group", "Group")), "value": "GRP-7", "name": group}
            )
        if subscriber:
            cov["subscriber"] = {"reference": f"RelatedPerson/{subscriber}"}
            cov["relationship"] = _concept(
                ("http://terminology.hl7.org/CodeSystem/subscriber-relationship", "child", "Child")
            )
        if type_code:
            cov["type"] = _concept(type_code)
        period = {
            k: (v.isoformat() if isinstance(v, date) else v)
            for k, v in (("start", start), ("end", end))
            if v is not None
        }
        if period:
            cov["period"] = period
        if order is not None:
            cov["order"] = order
        self.resources["coverage"].append(cov)
        return cov

    # -- problem list -------------------------------------------------------
    def condition(
        self,
        icd10: str | None = None,
        snomed: str | None = None,
        text: str | None = None,
        clinical: str = "active",
        verification: str = "confirmed",
        display: str = "",
        onset: date | str | None = "800 days before",
        recorded: date | None = None,
    ) -> dict[str, Any]:
        """A problem-list Condition. `onset`: when the condition began (a date, a FHIR date
        string such as "2026-06", or None for none recorded); by default 800 days before the DOS.
        `recorded`: its recordedDate (none by default)."""
        if onset == "800 days before":
            onset = self.days_before(800)
        codings = []
        if icd10:
            codings.append((ICD10, icd10, display or icd10))
        if snomed:
            codings.append((SNOMED, snomed, display or snomed))
        cond = {
            "resourceType": "Condition",
            "id": self._id("cond"),
            "subject": self._subject(),
            "clinicalStatus": _concept((COND_CLINICAL, clinical, clinical.title())),
            "verificationStatus": _concept((COND_VERIFICATION, verification, verification.title())),
            "category": [
                _concept(
                    (
                        "http://terminology.hl7.org/CodeSystem/condition-category",
                        "problem-list-item",
                        "Problem List Item",
                    )
                )
            ],
            "code": _concept(*codings, text=text or display or None),
        }
        if onset is not None:
            cond["onsetDateTime"] = onset if isinstance(onset, str) else iso(onset)
        if recorded is not None:
            cond["recordedDate"] = iso(recorded)
        self.resources["conditions"].append(cond)
        return cond

    # -- observations -------------------------------------------------------
    def _obs(
        self, codings: list[tuple[str, str, str]], when: datetime | date | None, **value: Any
    ) -> dict[str, Any]:
        # Undated in a test means "documented in the work-up": before any trial the chart has.
        when = when if when is not None else at(self.days_before(45))
        if isinstance(when, date) and not isinstance(when, datetime):
            when = at(when)
        obs = {
            "resourceType": "Observation",
            "id": self._id("obs"),
            "status": "final",
            "subject": self._subject(),
            "category": [_concept((OBS_CATEGORY, "survey", "Survey"))],
            "code": _concept(*codings),
            "effectiveDateTime": iso(when),
            **value,
        }
        self.resources["observations"].append(obs)
        return obs

    def nrs(self, value: int, when: datetime | date | None = None, loinc: str = "72514-3") -> dict[str, Any]:
        return self._obs(
            [(LOINC, loinc, "Pain severity - 0-10 verbal numeric rating [Score] - Reported")],
            when,
            valueInteger=value,
        )

    def score(self, scale: str, value: Any, when: datetime | date | None = None) -> dict[str, Any]:
        """scale: modified-ashworth (value '1+' or 0-4), ashworth, penn-spasm-frequency."""
        coding = [(IDDS, scale, scale.replace("-", " ").title())]
        if scale == "modified-ashworth":
            return self._obs(
                coding, when, valueCodeableConcept=_concept((IDDS, f"mas-{value}", f"MAS {value}"))
            )
        return self._obs(coding, when, valueInteger=int(value))

    def flag(self, code: str, value: bool, when: datetime | date | None = None) -> dict[str, Any]:
        return self._obs([(IDDS, code, code.replace("-", " "))], when, valueBoolean=value)

    def life_expectancy(
        self, value: float, unit: str = "mo", when: datetime | date | None = None
    ) -> dict[str, Any]:
        return self._obs(
            [(IDDS, "life-expectancy", "Life expectancy")],
            when,
            valueQuantity={"value": value, "unit": unit, "system": UCUM, "code": unit},
        )

    def psych(
        self,
        outcome: str = "favorable",
        when: datetime | date | None = None,
        evaluator: str | None = "psychologist",
        performer: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The evaluation as an EHR records it: its performer a contained PractitionerRole
        with the evaluator's NUCC specialty (EVALUATORS); `evaluator=None` names no performer,
        `performer` gives the performer references as sent (e.g. to practitioner_role())."""
        extra: dict[str, Any] = {}
        if performer is not None:
            extra["performer"] = performer
        elif evaluator is not None:
            system, code, display = EVALUATORS[evaluator]
            extra["contained"] = [
                {
                    "resourceType": "PractitionerRole",
                    "id": "evaluator",
                    "active": True,
                    "practitioner": {"display": "Dr. Robin Evaluator"},
                    "specialty": [_concept((system, code, display))],
                }
            ]
            extra["performer"] = [{"reference": "#evaluator", "display": "Dr. Robin Evaluator"}]
        return self._obs(
            [(IDDS, "psych-evaluation", "Mental and behavioural health evaluation")],
            when,
            valueCodeableConcept=_concept((IDDS, outcome, outcome.title())),
            **extra,
        )

    def practitioner_role(
        self,
        evaluator: str | None = None,
        qualification: str | None = None,
        active: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        """A PractitionerRole (with its Practitioner) the EHR sends with the observations, as an
        `_include` of Observation:performer would: a specialty (`evaluator`) on the role, or a
        qualification code (`qualification`, an EVALUATORS key) on the Practitioner only."""
        practitioner: dict[str, Any] = {
            "resourceType": "Practitioner",
            "id": self._id("prac"),
            "name": [{"family": "Evaluator", "given": ["Robin"], "prefix": ["Dr."]}],
        }
        if qualification is not None:
            system, code, display = EVALUATORS[qualification]
            practitioner["qualification"] = [
                {
                    "identifier": [{"system": "http://example.org/state-licence", "value": "PSY-12345"}],
                    "code": _concept((system, code, display)),
                    **extra.pop("qualification_extra", {}),
                }
            ]
        role: dict[str, Any] = {
            "resourceType": "PractitionerRole",
            "id": self._id("role"),
            "active": active,
            "practitioner": {
                "reference": f"Practitioner/{practitioner['id']}",
                "display": "Dr. Robin Evaluator",
            },
            **extra,
        }
        if evaluator is not None:
            system, code, display = EVALUATORS[evaluator]
            role["specialty"] = [_concept((system, code, display))]
        self.resources["observations"] += [role, practitioner]
        return role

    def trial_relief(
        self, percent: float, hours: float | None = None, when: datetime | date | None = None
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "valueQuantity": {"value": percent, "unit": "%", "system": UCUM, "code": "%"}
        }
        if hours is not None:
            extra["component"] = [
                {
                    "code": _concept((IDDS, "relief-duration", "Relief duration")),
                    "valueQuantity": {"value": hours, "unit": "h", "system": UCUM, "code": "h"},
                }
            ]
        return self._obs([(IDDS, "trial-pain-relief", "Trial pain relief")], when, **extra)

    def spasm_relief(self, percent: float, when: datetime | date | None = None) -> dict[str, Any]:
        return self._obs(
            [(IDDS, "trial-spasm-relief", "Trial spasm relief")],
            when,
            valueQuantity={"value": percent, "unit": "%", "system": UCUM, "code": "%"},
        )

    # -- therapies ----------------------------------------------------------
    def therapy(
        self,
        kind: str,
        start: date,
        end: date | None,
        outcome: str | None = "ineffective",
        status: str = "completed",
        prescriber: str | None = None,
    ) -> dict[str, Any]:
        """`prescriber` (an EVALUATORS key): the course's performer, a contained PractitionerRole
        with that specialty (who prescribed and supervised the exercise programme)."""
        proc: dict[str, Any] = {
            "resourceType": "Procedure",
            "id": self._id("proc"),
            "status": status,
            "subject": self._subject(),
            "code": _concept(*THERAPY_CODES[kind]),
            "performedPeriod": {"start": iso(start), **({"end": iso(end)} if end else {})},
        }
        if prescriber is not None:
            system, code, display = EVALUATORS[prescriber]
            proc["contained"] = [
                {
                    "resourceType": "PractitionerRole",
                    "id": "prescriber",
                    "active": True,
                    "specialty": [_concept((system, code, display))],
                }
            ]
            proc["performer"] = [{"actor": {"reference": "#prescriber", "display": display}}]
        if outcome:
            proc["outcome"] = _concept((IDDS, outcome, outcome.replace("-", " ")))
        self.resources["procedures"].append(proc)
        return proc

    def medication(
        self,
        drug: str,
        start: date,
        end: date | None,
        fixed: bool = True,
        reason: str | None = "ineffective",
        status: str = "completed",
        coded: bool = True,
    ) -> dict[str, Any]:
        ingredient, scd, display = DRUGS[drug]
        codings = []
        if coded and scd:
            codings.append((RXNORM, scd, display))
        if coded and ingredient and not scd:
            codings.append((RXNORM, ingredient, drug))
        dosage: dict[str, Any] = {"text": display, "route": _concept((SNOMED, "26643006", "Oral route"))}
        if fixed:
            dosage["timing"] = {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}
        else:
            dosage["asNeededBoolean"] = True
        stmt = {
            "resourceType": "MedicationStatement",
            "id": self._id("med"),
            "status": status,
            "subject": self._subject(),
            "medicationCodeableConcept": _concept(*codings, text=display),
            "effectivePeriod": {"start": iso(start), **({"end": iso(end)} if end else {})},
            "dosage": [dosage],
        }
        if reason:
            stmt["statusReason"] = [_concept((IDDS, reason, reason.replace("-", " ")))]
        self.resources["medications"].append(stmt)
        return stmt

    def allergy(self, drug: str) -> dict[str, Any]:
        ingredient, _, display = DRUGS[drug]
        allergy = {
            "resourceType": "AllergyIntolerance",
            "id": self._id("allergy"),
            "patient": self._subject(),
            "clinicalStatus": _concept(
                ("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active")
            ),
            "code": _concept((RXNORM, ingredient, drug), text=display) if ingredient else {"text": display},
        }
        self.resources["allergies"].append(allergy)
        return allergy

    # -- trial and pump -----------------------------------------------------
    def trial(
        self,
        when: datetime | date | None,
        code: str = "62322",
        drug: str | None = None,
        marker: bool = True,
        end: datetime | date | None = None,
        via: str = "usedCode",
        status: str = "completed",
    ) -> dict[str, Any]:
        """The performed trial Procedure. `marker` adds idds#intrathecal-trial; `drug` is documented
        on it by `usedCode` or by a MedicationAdministration partOf it (`via="administration"`);
        `end` makes it a catheter/continuous trial (performedPeriod); `when=None` leaves it undated."""
        proc: dict[str, Any] = {
            "resourceType": "Procedure",
            "id": self._id("trial"),
            "status": status,
            "subject": self._subject(),
            "code": _concept(
                (CPT, code, "Intrathecal injection, lumbar"),
                *([(IDDS, "intrathecal-trial", "Intrathecal drug trial")] if marker else []),
            ),
        }
        if when is not None:
            when = at(when) if not isinstance(when, datetime) else when
            if end is not None:
                end = at(end) if not isinstance(end, datetime) else end
                proc["performedPeriod"] = {"start": iso(when), "end": iso(end)}
            else:
                proc["performedDateTime"] = iso(when)
        self.resources["procedures"].append(proc)
        if drug:
            ingredient, _, display = DRUGS[drug]
            concept = _concept((RXNORM, ingredient, drug), text=display) if ingredient else {"text": display}
            if via == "usedCode":
                proc["usedCode"] = [concept]
            else:
                self.resources["medications"].append(
                    {
                        "resourceType": "MedicationAdministration",
                        "id": self._id("medadmin"),
                        "status": "completed",
                        "subject": self._subject(),
                        "medicationCodeableConcept": concept,
                        "partOf": [{"reference": f"Procedure/{proc['id']}"}],
                        "effectiveDateTime": proc.get("performedDateTime") or iso(self.dos),
                        "dosage": {
                            "route": _concept((SNOMED, "72607000", "Intrathecal route")),
                            "text": f"{display} trial bolus",
                        },
                    }
                )
        return proc

    def epidural_steroid_injection(
        self, when: datetime | date, code: str = "62321", with_local_anaesthetic: bool = False
    ) -> dict[str, Any]:
        """A 62321/62323 epidural steroid injection: conservative care, never the drug trial
        (also when bupivacaine is injected with the steroid)."""
        when = at(when) if not isinstance(when, datetime) else when
        used = ["methylprednisolone"] + (["bupivacaine"] if with_local_anaesthetic else [])
        proc = {
            "resourceType": "Procedure",
            "id": self._id("esi"),
            "status": "completed",
            "subject": self._subject(),
            "code": _concept(
                (CPT, code, "Injection(s), of diagnostic or therapeutic substance(s), epidural")
            ),
            "usedCode": [_concept((RXNORM, DRUGS[d][0], d), text=DRUGS[d][2]) for d in used],
            "performedDateTime": iso(when),
        }
        self.resources["procedures"].append(proc)
        return proc

    def trial_flag(self, code: str, value: bool, when: datetime | date | None = None) -> dict[str, Any]:
        return self.flag(code, value, when)

    def pump(
        self, status: str | None = "functional", device_status: str = "active", via: str = "observation"
    ) -> dict[str, Any]:
        device = {
            "resourceType": "Device",
            "id": self._id("pump"),
            "status": device_status,
            "patient": self._subject(),
            "type": _concept(
                (IDDS, "implanted-intrathecal-pump", "Implanted intrathecal pump"),
                (SNOMED, "706197005", "Implantable infusion pump"),
            ),
            "deviceName": [{"name": "SynchroMed II programmable pump", "type": "user-friendly-name"}],
        }
        self.resources["devices"].append(device)
        if status and via == "property":
            device["property"] = [
                {
                    "type": _concept((IDDS, "pump-status", "Pump status")),
                    "valueCode": [_concept((IDDS, status, status))],
                }
            ]
        elif status:
            obs = self._obs(
                [(IDDS, "pump-status", "Pump status")],
                None,
                valueCodeableConcept=_concept((IDDS, status, status)),
            )
            obs["device"] = {"reference": f"Device/{device['id']}"}
        return device

    # -- orders -------------------------------------------------------------
    def order(
        self,
        code: str,
        drug: str | None = None,
        route: str = "intrathecal",
        reason_icd10: str | None = None,
        order_id: str | None = None,
        occurrence: date | None = None,
        system: str | None = None,
        detail_code: str | None = None,
        device_request: bool = False,
    ) -> dict[str, Any]:
        system = system or (HCPCS if code[0].isalpha() else CPT)
        order_id = order_id or f"sr-{len(self.draft) + 1}"
        sr: dict[str, Any] = {
            "resourceType": "DeviceRequest" if device_request else "ServiceRequest",
            "id": order_id,
            "status": "draft",
            "intent": "order",
            "subject": self._subject(),
            ("codeCodeableConcept" if device_request else "code"): _concept((system, code, code)),
            "occurrenceDateTime": iso(occurrence or self.dos),
            "authoredOn": iso(self.days_before(3)),
        }
        if reason_icd10:
            sr["reasonCode"] = [_concept((ICD10, reason_icd10, reason_icd10))]
        if detail_code:
            sr["orderDetail"] = [_concept((IDDS, detail_code, detail_code))]
        self.draft.append(sr)
        if drug:
            ingredient, _, display = DRUGS[drug]
            route_coding = (
                (SNOMED, "72607000", "Intrathecal route")
                if route == "intrathecal"
                else (
                    (SNOMED, "404820008", "Epidural route")
                    if route == "epidural"
                    else (SNOMED, "26643006", "Oral route")
                )
            )
            self.draft.append(
                {
                    "resourceType": "MedicationRequest",
                    "id": f"{order_id}-med",
                    "status": "draft",
                    "intent": "order",
                    "subject": self._subject(),
                    "basedOn": [{"reference": f"ServiceRequest/{order_id}"}],
                    "medicationCodeableConcept": _concept((RXNORM, ingredient, drug), text=display)
                    if ingredient
                    else {"text": display},
                    "dosageInstruction": [{"text": f"{display} trial dose", "route": _concept(route_coding)}],
                }
            )
        return sr

    # -- the hook -----------------------------------------------------------
    def bundle(self, key: str) -> dict[str, Any]:
        entries = self.resources[key]
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(entries),
            "entry": [
                {"fullUrl": f"http://ehr.example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r}
                for r in entries
            ],
        }

    def request(
        self,
        hook: str = "order-sign",
        selections: list[str] | None = None,
        omit: tuple[str, ...] = (),
        fhir_server: str | None = None,
    ) -> dict[str, Any]:
        prefetch: dict[str, Any] = {"patient": self.patient}
        for key in self.resources:
            prefetch[key] = self.bundle(key)
        for key in omit:
            prefetch[key] = None
        context: dict[str, Any] = {
            "userId": "Practitioner/dr-1",
            "patientId": self.patient_id,
            "encounterId": "enc-1",
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": r} for r in self.draft],
            },
        }
        if hook == "order-select":
            context["selections"] = selections or [
                f"{r['resourceType']}/{r['id']}"
                for r in self.draft
                if r["resourceType"] != "MedicationRequest"
            ]
        req = {
            "hook": hook,
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": context,
            "prefetch": prefetch,
        }
        if fhir_server:
            req["fhirServer"] = fhir_server
            req["fhirAuthorization"] = {
                "access_token": "secret-token-xyz",
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "idds-cds",
            }
        return req
