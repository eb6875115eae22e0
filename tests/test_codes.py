"""Value sets from mappings/*.yaml (cds_service/codes.py), read through the Terminology.

The rules the mappings' comments promise: ICD-10 by prefix, dots ignored, any case; a range
"A-B" compares codes of the same width, inclusive; SNOMED, LOINC and the rest exactly; a
system is known by any of its URIs (a trailing slash aside); a concept is in a set when any
one of its codings is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cds_service.codes import MAPPINGS_DIR, MappingFileError, Terminology

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10_WHO = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
IDDS = "http://idds-cds.org/fhir/CodeSystem/idds"


@pytest.fixture(scope="module")
def t() -> Terminology:
    return Terminology()


def concept(*codings: tuple[str | None, str | None], text: str | None = None) -> dict:
    out: dict = {"coding": [{"system": s, "code": c} for s, c in codings]}
    if text:
        out["text"] = text
    return out


# -- ICD-10: by prefix, dots and case ignored --------------------------------------------------------


@pytest.mark.parametrize("code", ["G35", "G35.0", "g35", "G350", " G35 "])
def test_an_icd10_code_matches_its_category_whatever_its_spelling(t, code):
    assert t.in_set(concept((ICD10, code)), "indication-spasticity")


def test_either_icd10_system_uri_is_the_same_system(t):
    assert t.in_set(concept((ICD10_WHO, "G35")), "indication-spasticity")
    assert t.in_set(concept((ICD10 + "/", "G35")), "indication-spasticity")


def test_a_neighbouring_icd10_category_is_not_a_match(t):
    """G36 (other acute demyelination) is next to G35 (MS) but is not spasticity's."""
    assert not t.in_set(concept((ICD10, "G36")), "indication-spasticity")
    assert not t.in_set(concept((ICD10, "G3")), "indication-spasticity")  # shorter than the prefix


@pytest.mark.parametrize(
    ("code", "inside"),
    [("C00", True), ("C50.911", True), ("C96.Z", True), ("C97", False), ("D00.0", False), ("B99", False)],
)
def test_an_icd10_range_holds_the_categories_between_its_ends_inclusive(t, code, inside):
    assert t.in_set(concept((ICD10, code)), "malignant-neoplasm") is inside


def test_an_alphanumeric_category_listed_beside_a_range_matches_by_prefix(t):
    assert t.in_set(concept((ICD10, "C4A.9")), "malignant-neoplasm")
    assert t.in_set(concept((ICD10, "C7B.00")), "malignant-neoplasm")


# -- exact systems ---------------------------------------------------------------------------------


def test_a_snomed_code_matches_exactly_never_by_prefix(t):
    assert t.in_set(concept((SNOMED, "24700007")), "indication-spasticity")
    assert not t.in_set(concept((SNOMED, "2470000")), "indication-spasticity")
    assert not t.in_set(concept((SNOMED, "247000071")), "indication-spasticity")


@pytest.mark.parametrize(
    ("code", "inside"),
    [("62320", True), ("62322", True), ("62327", True), ("62319", False), ("62328", False)],
)
def test_a_cpt_range_is_inclusive_at_both_ends(t, code, inside):
    assert t.in_set(concept((CPT, code)), "order-trial-injection") is inside


def test_hcpcs_codes_match_under_either_spelling_of_the_cms_uri(t):
    assert t.in_set(concept((HCPCS, "E0782")), "order-implant")
    assert t.in_set(concept((HCPCS.replace("https", "http"), "E0782")), "order-implant")
    assert not t.in_set(concept((HCPCS, "E0784")), "order-implant")


def test_a_loinc_code_is_an_observation_of_its_set(t):
    assert "pain-nrs" in t.observation_sets_of(concept((LOINC, "72514-3")))
    assert t.observation_sets_of(concept((LOINC, "72514-4"))) == frozenset()


# -- systems, several codings, odd input -----------------------------------------------------------


def test_the_same_code_under_an_unknown_system_matches_nothing(t):
    """A local system spelling G35 is not ICD-10 until systems.yaml says so."""
    assert not t.in_set(concept(("http://example.org/local-dx", "G35")), "indication-spasticity")
    assert not t.in_set(concept((None, "G35")), "indication-spasticity")
    assert t.alias("http://example.org/local-dx") is None


def test_a_concept_is_in_a_set_when_any_one_of_its_codings_is(t):
    c = concept(("http://example.org/local-dx", "MS-1"), (SNOMED, "999999"), (ICD10, "G35"))
    assert t.in_set(c, "indication-spasticity")
    assert {"indication-spasticity"} <= t.sets_of(ICD10, "G35")


def test_text_alone_never_puts_a_concept_in_a_coded_set(t):
    assert not t.in_set({"text": "Multiple sclerosis (G35)"}, "indication-spasticity")


def test_a_list_of_concepts_is_in_a_set_when_any_concept_is(t):
    assert t.in_set([concept((SNOMED, "1")), concept((ICD10, "G35"))], "indication-spasticity")
    assert not t.in_set([], "indication-spasticity")


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "G35",
        {"coding": "G35"},
        {"coding": [None, 7, "G35"]},
        {"coding": [{"system": ICD10, "code": 35}]},
        {"coding": [{"system": ICD10, "code": ""}]},
        {"coding": [{"system": ["x"], "code": "G35"}]},
    ],
)
def test_malformed_concepts_match_nothing_and_raise_nothing(t, bad):
    assert not t.in_set(bad, "indication-spasticity")
    assert t.observation_sets_of(bad) == frozenset()


def test_asking_for_a_value_set_that_does_not_exist_is_a_programming_error(t):
    with pytest.raises(KeyError):
        t.in_set(concept((ICD10, "G35")), "indication-spasticty")


def test_the_idds_code_of_a_concept_is_its_idds_coding(t):
    c = concept((SNOMED, "24700007"), (IDDS, "intrathecal-trial"))
    assert t.idds_code(c) == "intrathecal-trial"
    assert t.idds_code(concept((SNOMED, "24700007"))) is None
    assert t.in_set(c, "order-trial-marker")


def test_a_coding_seen_many_times_answers_the_same_every_time(t):
    c = concept((ICD10, "G35.0"))
    assert all(t.in_set(c, "indication-spasticity") for _ in range(1000))
    assert not any(t.in_set(c, "indication-dystonia") for _ in range(1000))


# -- the mapping files are checked when they load -------------------------------------------------


def _mappings(tmp_path: Path) -> Path:
    copy = tmp_path / "mappings"
    shutil.copytree(MAPPINGS_DIR, copy)
    return copy


def test_a_value_set_naming_an_unknown_code_system_stops_loading(tmp_path):
    d = _mappings(tmp_path)
    conditions = d / "conditions.yaml"
    conditions.write_text(conditions.read_text() + "\nlocal-set:\n  localdx: [X1]\n")
    with pytest.raises(MappingFileError, match="localdx"):
        Terminology(d)


def test_a_range_whose_ends_differ_in_width_stops_loading(tmp_path):
    d = _mappings(tmp_path)
    procedures = d / "procedures.yaml"
    procedures.write_text(procedures.read_text() + "\nbad-range:\n  cpt: [6232-62327]\n")
    with pytest.raises(MappingFileError, match="width"):
        Terminology(d)


def test_a_mapping_file_that_is_not_yaml_stops_loading(tmp_path):
    d = _mappings(tmp_path)
    (d / "conditions.yaml").write_text("indication-spasticity: [unclosed\n")
    with pytest.raises(MappingFileError, match=r"conditions\.yaml"):
        Terminology(d)


def test_a_local_system_added_to_systems_yaml_is_then_matched(tmp_path):
    """The mappings are data: a site adds its own system and codes without touching Python."""
    d = _mappings(tmp_path)
    systems = d / "systems.yaml"
    systems.write_text(systems.read_text() + "\nlocaldx: [http://example.org/local-dx]\n")
    conditions = d / "conditions.yaml"
    text = conditions.read_text().replace(
        "indication-spasticity:\n  description: Spasticity and the conditions causing it\n",
        "indication-spasticity:\n  description: Spasticity and the conditions causing it\n  localdx: [MS-1]\n",
    )
    conditions.write_text(text)
    local = Terminology(d)
    assert local.in_set(concept(("http://example.org/local-dx", "MS-1")), "indication-spasticity")


# -- asking about many sets at once --------------------------------------------------------------

ODD_CONCEPTS = [
    concept((SNOMED, "91251008"), (CPT, "97110")),  # physical therapy, two ways
    concept((CPT, "98941")),  # chiropractic
    [concept((ICD10, "M96.1")), concept((CPT, "97110"))],  # a list of concepts
    concept((CPT, "97110"), text="therapeutic exercise"),
    {"coding": [{"system": CPT, "code": 97110}, "97110", {"system": None, "code": "97110"}]},
    {"coding": [{"system": CPT, "code": ""}]},
    {"coding": "97110"},
    {"text": "physical therapy"},
    None,
    "97110",
]


@pytest.mark.parametrize("given", ODD_CONCEPTS, ids=range(len(ODD_CONCEPTS)))
def test_the_sets_of_a_concept_are_exactly_the_sets_in_set_answers_yes_for(t, given):
    held = t.sets_of_concept(given)
    assert {name for name in t.value_sets if t.in_set(given, name)} == held


def test_every_value_set_the_indication_and_the_therapies_ask_about_at_once_exists(t):
    """Membership in `sets_of_concept` cannot say a name is misspelt (in_set raised): the names exist."""
    from cds_service import indication

    asked = (
        {vs for _, vs in indication.INDICATION_SETS}
        | set(indication.RELEVANT_SETS)
        | {"order-reason-neutral"}
    )
    asked |= {f"therapy:{k}" for k in t.therapies.procedure_kinds} | {
        f"route:{n}" for n in t.therapies.routes
    }
    assert asked <= set(t.value_sets)
