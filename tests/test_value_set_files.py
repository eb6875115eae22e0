"""The value-set files (conditions.yaml, observations.yaml, procedures.yaml) have a schema
(mappings_schema.Conditions / ValueSets / CodeList): a malformed entry stops loading with
the file and the entry named, as every other mapping file does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from cds_service.codes import Terminology
from cds_service.mappings_schema import MAPPINGS_DIR, MappingFileError


def _load_edited(tmp_path: Path, name: str, edit) -> Terminology:
    for f in MAPPINGS_DIR.iterdir():
        shutil.copy(f, tmp_path / f.name)
    raw = yaml.safe_load((tmp_path / name).read_text(encoding="utf-8"))
    raw = edit(raw) or raw
    (tmp_path / name).write_text(yaml.safe_dump(raw), encoding="utf-8")
    return Terminology(tmp_path)


def test_the_shipped_value_set_files_fit_their_schema():
    t = Terminology()
    assert t.value_sets["malignant-neoplasm"].has("icd10", "C50.911")
    assert t.value_sets["order-implant"].has("cpt", "62362")
    assert t.value_sets["pain-nrs"].has("loinc", "72514-3")
    assert t.indication_combinations == {"cancer-pain": [["malignant-neoplasm", "pain-condition"]]}


def test_a_value_set_file_that_is_not_a_mapping_names_the_file_and_the_top_level(tmp_path):
    with pytest.raises(MappingFileError, match=r"^observations\.yaml: \(top level\): "):
        _load_edited(tmp_path, "observations.yaml", lambda raw: list(raw))


def test_a_value_set_that_is_not_a_mapping_names_it(tmp_path):
    def edit(raw):
        raw["order-implant"] = ["62350"]

    with pytest.raises(MappingFileError, match=r"^procedures\.yaml: order-implant: .*dictionary"):
        _load_edited(tmp_path, "procedures.yaml", edit)


def test_codes_that_are_not_a_list_name_the_set_and_the_code_system(tmp_path):
    def edit(raw):
        raw["order-implant"]["cpt"] = "62350"

    with pytest.raises(MappingFileError, match=r"^procedures\.yaml: order-implant\.cpt: .*list"):
        _load_edited(tmp_path, "procedures.yaml", edit)


def test_a_code_that_is_not_a_code_names_its_place_instead_of_matching_its_repr(tmp_path):
    """A mapping where a code belongs was read as the code "{'C50': 'BREAST'}" and matched nothing."""

    def edit(raw):
        raw["malignant-neoplasm"]["icd10"].append({"C50": "breast"})

    with pytest.raises(
        MappingFileError, match=r"^conditions\.yaml: malignant-neoplasm\.icd10\.\d+: .*string"
    ):
        _load_edited(tmp_path, "conditions.yaml", edit)


def test_a_description_that_is_not_text_is_refused(tmp_path):
    def edit(raw):
        raw["pain-nrs"]["description"] = ["pain", "score"]

    with pytest.raises(MappingFileError, match=r"^observations\.yaml: pain-nrs\.description: "):
        _load_edited(tmp_path, "observations.yaml", edit)


def test_an_indication_combination_for_an_unknown_indication_names_it(tmp_path):
    def edit(raw):
        raw["indication_combinations"]["back-pain"] = [["malignant-neoplasm", "pain-condition"]]

    with pytest.raises(MappingFileError, match=r"^conditions\.yaml: indication_combinations\.back-pain"):
        _load_edited(tmp_path, "conditions.yaml", edit)


def test_an_indication_combination_that_is_not_a_list_of_sets_names_the_group(tmp_path):
    """A bare value set name was read letter by letter ("unknown value set 'm'")."""

    def edit(raw):
        raw["indication_combinations"]["cancer-pain"] = ["malignant-neoplasm"]

    with pytest.raises(
        MappingFileError, match=r"^conditions\.yaml: indication_combinations\.cancer-pain\.0: .*list"
    ):
        _load_edited(tmp_path, "conditions.yaml", edit)


def test_an_indication_combination_naming_an_unknown_value_set_names_it(tmp_path):
    def edit(raw):
        raw["indication_combinations"]["cancer-pain"] = [["malignant-neoplasm", "pain-conditions"]]

    with pytest.raises(
        MappingFileError, match=r"indication_combinations\.cancer-pain: unknown value set 'pain-conditions'"
    ):
        _load_edited(tmp_path, "conditions.yaml", edit)


def test_an_unknown_code_system_alias_names_the_set_and_the_alias(tmp_path):
    def edit(raw):
        raw["order-implant"]["cpt4"] = ["62350"]

    with pytest.raises(
        MappingFileError, match=r"^procedures\.yaml: order-implant\.cpt4: unknown code system alias"
    ):
        _load_edited(tmp_path, "procedures.yaml", edit)


def test_a_range_whose_ends_differ_in_width_is_refused(tmp_path):
    def edit(raw):
        raw["order-trial-injection"]["cpt"] = ["62320-623270"]

    with pytest.raises(
        MappingFileError, match=r"^procedures\.yaml: order-trial-injection\.cpt: range '62320-623270'"
    ):
        _load_edited(tmp_path, "procedures.yaml", edit)
