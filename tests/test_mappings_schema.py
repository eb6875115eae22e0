"""mappings/*.yaml have a schema (cds_service/mappings_schema.py): a malformed file stops
loading with the file and the field named, as a malformed policy file does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from cds_service import mappings_schema, next_steps
from cds_service.codes import Terminology
from cds_service.mappings_schema import MAPPINGS_DIR, MappingFileError


def _copy(tmp_path: Path, name: str, edit) -> Path:
    for f in MAPPINGS_DIR.iterdir():
        shutil.copy(f, tmp_path / f.name)
    raw = yaml.safe_load((tmp_path / name).read_text(encoding="utf-8"))
    edit(raw)
    (tmp_path / name).write_text(yaml.safe_dump(raw), encoding="utf-8")
    return tmp_path


def test_the_shipped_mappings_fit_their_schema():
    t = Terminology()
    assert "conservative-any" in t.therapies.classes
    assert mappings_schema.payers().routes and all(r.match for r in mappings_schema.payers().routes)
    assert "morphine" in t.drugs.ingredients and t.drugs.ingredients["morphine"].rxnorm == ["7052"]


def test_an_unquoted_numeric_code_is_read_as_a_code():
    drugs = mappings_schema.Drugs.model_validate(
        {
            "ingredients": {"x": {"rxnorm": [7052], "classes": ["opioid"]}},
            "clinical_drugs": {1049621: ["x"]},
            "trial_injectate_classes": ["opioid"],
            "indication_by_injectate": {"opioid": ["cancer-pain"]},
        }
    )
    assert drugs.ingredients["x"].rxnorm == ["7052"] and list(drugs.clinical_drugs) == ["1049621"]


def test_a_therapy_class_of_an_unknown_kind_names_the_file_and_the_class(tmp_path):
    def edit(raw):
        raw["classes"]["physical-therapy"] = ["physio"]

    with pytest.raises(MappingFileError, match=r"^therapies\.yaml: .*classes\.physical-therapy.*physio"):
        Terminology(_copy(tmp_path, "therapies.yaml", edit))


def test_a_missing_section_of_therapies_yaml_names_the_field(tmp_path):
    with pytest.raises(MappingFileError, match=r"^therapies\.yaml: allergy_reasons: Field required"):
        Terminology(_copy(tmp_path, "therapies.yaml", lambda raw: raw.pop("allergy_reasons")))


def test_a_typo_in_a_key_is_refused_not_ignored(tmp_path):
    def edit(raw):
        raw["routes"][0]["not_for"] = [{**raw["routes"][1]["not_for"][0], "plan_contain": ["x"]}]

    with pytest.raises(MappingFileError, match=r"^payers\.yaml: routes\.0\.not_for\.0\.plan_contain"):
        mappings_schema.load("payers.yaml", mappings_schema.Payers, _copy(tmp_path, "payers.yaml", edit))


def test_a_route_without_match_names_its_index(tmp_path):
    def edit(raw):
        raw["routes"][2]["match"] = []

    with pytest.raises(MappingFileError, match=r"^payers\.yaml: routes\.2\.match"):
        mappings_schema.load("payers.yaml", mappings_schema.Payers, _copy(tmp_path, "payers.yaml", edit))


def test_an_injectate_implying_an_unknown_indication_is_refused(tmp_path):
    def edit(raw):
        raw["indication_by_injectate"]["opioid"] = ["back-pain"]

    with pytest.raises(MappingFileError, match=r"^drugs\.yaml: indication_by_injectate\.opioid\.0"):
        Terminology(_copy(tmp_path, "drugs.yaml", edit))


def test_a_clinical_drug_of_an_unknown_ingredient_is_refused(tmp_path):
    def edit(raw):
        raw["clinical_drugs"]["1049621"] = ["oxycodon"]

    with pytest.raises(
        MappingFileError, match=r"^drugs\.yaml: .*clinical_drugs\.1049621: unknown ingredient 'oxycodon'"
    ):
        Terminology(_copy(tmp_path, "drugs.yaml", edit))


def test_a_codesystem_concept_without_a_definition_names_the_code(tmp_path):
    def edit(raw):
        raw["concepts"]["mas-0"].pop("definition")

    with pytest.raises(MappingFileError, match=r"^codesystem-idds\.yaml: concepts\.mas-0\.definition"):
        mappings_schema.codesystem(_copy(tmp_path, "codesystem-idds.yaml", edit))


def test_a_file_that_is_not_yaml_names_the_file(tmp_path):
    _copy(tmp_path, "systems.yaml", lambda raw: None)
    (tmp_path / "systems.yaml").write_text("loinc: [http://loinc.org\n", encoding="utf-8")
    with pytest.raises(MappingFileError, match=r"^systems\.yaml: "):
        Terminology(tmp_path)
    with pytest.raises(MappingFileError, match=r"^systems\.yaml: "):
        next_steps.load(tmp_path)


def test_a_next_step_without_its_contradicted_text_names_the_fact_and_the_value(tmp_path):
    def edit(raw):
        raw["steps"]["flag"]["body-habitus-adequate"].pop("not_met")

    with pytest.raises(
        MappingFileError, match=r"^next-steps\.yaml: steps\.flag\.by\.values\.body-habitus-adequate\.not_met"
    ):
        next_steps.load(_copy(tmp_path, "next-steps.yaml", edit))


def test_an_override_reason_without_a_display_is_refused(tmp_path):
    def edit(raw):
        raw["override_reasons"]["codes"][0].pop("display")

    with pytest.raises(MappingFileError, match=r"^next-steps\.yaml: override_reasons\.codes\.0\.display"):
        next_steps.load(_copy(tmp_path, "next-steps.yaml", edit))
