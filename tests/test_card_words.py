"""A card's words (cds_service/card_text.py), unit by unit: raw references and coded values
in a clinician's words, the order named as a clinician names it, and the assumed date of
service said when the order carries none."""

from __future__ import annotations

from datetime import date

from cds_service.card_text import date_assumption, order_line, plain, sentence
from cds_service.orders import Order
from cds_service.policy_model import OTHER_INDICATION, Indication, Phase


def _order(code: str | None = "62350", phase: Phase | None = Phase.PERMANENT, basis: str = "occurrence"):
    return Order({}, "ServiceRequest/sr-1", code, phase, date(2026, 9, 14), date_basis=basis)


def test_a_raw_reference_is_named_by_what_it_is():
    assert plain("NRS 8 on Observation/obs-7.") == "NRS 8 on an observation."
    assert plain("see ServiceRequest/sr-1 and Device/pump-1") == "see an order and a device record"


def test_an_unknown_resource_type_is_a_record_and_a_capitalised_word_is_left_alone():
    assert plain("from SomeThing/x-1") == "from a record"
    assert plain("Yes/No answer") == "Yes/No answer"


def test_a_coded_value_reads_as_its_label():
    assert plain("for nonmalignant-pain") == "for chronic non-malignant pain"
    assert plain("opioid-reduction-agreed is not documented") == (
        "the patient's agreement to reduce systemic opioids is not documented"
    )
    assert plain("pump battery-near-end") == "pump battery nearing its end"


def test_a_doubled_full_stop_is_one_and_an_ellipsis_stays():
    assert plain("documented.. next") == "documented. next"
    assert plain("and so on...") == "and so on..."


def test_a_sentence_is_capitalised_and_ends_in_one_full_stop():
    assert sentence("record the score") == "Record the score."
    assert sentence("Is it documented?") == "Is it documented?"
    assert sentence("done.") == "Done."


def test_the_order_line_names_the_phase_the_code_system_and_the_indication():
    line = order_line(_order(), Indication.NONMALIGNANT_PAIN, with_indication=True)
    assert line == (
        "Order: IDDS permanent implant (CPT 62350), for chronic non-malignant pain; date of service 2026-09-14."
    )
    assert "(HCPCS C1772)" in order_line(_order("C1772", Phase.REPLACEMENT))
    assert "a condition outside the covered indications" in order_line(
        _order(), OTHER_INDICATION, with_indication=True
    )
    assert "indication not determined" in order_line(_order(), None, with_indication=True)


def test_the_assumed_date_of_service_is_said_only_when_the_order_carries_none():
    assert date_assumption(_order(basis="occurrence")) is None
    today = date_assumption(_order(basis="today"))
    assert today is not None and "today (2026-09-14) is assumed" in today
    written = date_assumption(_order(basis="authoredOn"))
    assert written is not None and "the day it was written (2026-09-14)" in written
    assert "policy version in force and the patient's age" in written
