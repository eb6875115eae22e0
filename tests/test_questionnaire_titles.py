"""A generated Questionnaire's title and description are what a clinician reads in the EHR's list
of forms: the phase and indication in a clinician's words (vocabulary.PHASE_LABEL,
INDICATION_LABEL), never the internal slug ("permanent", "nonmalignant-pain")."""

from __future__ import annotations

import re

import pytest

from cds_service.policy_model import INDICATION_LABEL, PHASE_LABEL, Indication, Phase
from cds_service.policy_store import PolicyStore
from cds_service.questionnaire.build import Questionnaires

STORE = PolicyStore.load()
ENTRIES = list(Questionnaires(STORE).by_id.values())
SLUGS = [str(s) for s in (*Phase, *Indication)]


def without_labels(text: str) -> str:
    """`text` with every clinician's label taken out: what is left must hold no slug (the label
    "permanent implant" holds the slug "permanent"; "trial" is both)."""
    for label in sorted((*PHASE_LABEL.values(), *INDICATION_LABEL.values()), key=len, reverse=True):
        text = text.replace(label, " ")
    return text


def test_the_check_covers_every_policy_version_and_the_phases_and_indications_whose_slug_is_not_a_label():
    assert {(e.policy, e.version) for e in ENTRIES} == {(p.policy, p.version) for p in STORE.all()}
    assert {e.phase for e in ENTRIES} >= {Phase.PERMANENT, Phase.REPLACEMENT}
    assert {e.indication for e in ENTRIES} >= {Indication.NONMALIGNANT_PAIN, Indication.CANCER_PAIN}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_questionnaire_title_names_the_phase_and_indication_in_a_clinicians_words(entry):
    title = entry.resource["title"]
    assert title.endswith(f"{INDICATION_LABEL[entry.indication]}, {PHASE_LABEL[entry.phase]}")
    for slug in SLUGS:
        assert not re.search(rf"\b{re.escape(slug)}\b", without_labels(title)), (slug, title)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_questionnaire_description_names_the_phase_and_indication_in_a_clinicians_words(entry):
    description = entry.resource["description"]
    assert PHASE_LABEL[entry.phase] in description and INDICATION_LABEL[entry.indication] in description
    for slug in SLUGS:
        assert not re.search(rf"\b{re.escape(slug)}\b", without_labels(description)), (slug, description)
