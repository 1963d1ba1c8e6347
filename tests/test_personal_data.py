"""The personal-data watch itself can fail: a leak in a response, a log line or the event log is caught."""

from __future__ import annotations

import logging

import pytest

from tests.personal_data import PersonalDataWatch

ID_NUMBER, PHONE = "11010519491231002X", "13912345678"


def watching() -> PersonalDataWatch:
    watch = PersonalDataWatch()
    watch.remember("POST", "/v1/incidents/abc/residents", {"id_number": ID_NUMBER.lower(), "phone": PHONE})
    return watch


def test_a_response_or_event_holding_an_id_number_is_caught():
    watch = watching()
    watch.check('{"id_number_masked": "****002X", "phone": "139****5678"}', "a masked response")
    with pytest.raises(AssertionError, match="personal data"):
        watch.check(f'{{"id_number": "{ID_NUMBER}"}}', "a response")
    with pytest.raises(AssertionError, match="personal data"):
        watch.check(f"after: {{'phone': '{PHONE}'}}", "the event log")


def test_a_log_line_holding_a_phone_is_caught():
    watch = watching()
    logger = logging.getLogger("relief.test_watch")
    logger.addHandler(watch)
    try:
        logger.warning("calling %s", PHONE)
    finally:
        logger.removeHandler(watch)
    with pytest.raises(AssertionError, match="the logs"):
        watch.check_log()


def test_a_traceback_holding_a_phone_is_caught():
    import structlog

    watch = watching()
    logging.getLogger("relief.test_watch").addHandler(watch)
    try:
        try:
            raise ValueError(f"could not call {PHONE}")
        except ValueError:
            structlog.get_logger("relief.test_watch").exception("call_failed")
    finally:
        logging.getLogger("relief.test_watch").removeHandler(watch)
    with pytest.raises(AssertionError, match="the logs"):
        watch.check_log()


def test_only_resident_registrations_are_remembered():
    watch = PersonalDataWatch()
    watch.remember("POST", "/v1/organizations", {"contact": {"phone": PHONE}})
    watch.remember("GET", "/v1/incidents/abc/residents", {"id_number": ID_NUMBER})
    watch.check(f"{PHONE} {ID_NUMBER}", "anything")  # nothing remembered, nothing to find


def test_a_residents_or_donors_name_is_caught_in_public_answers_only():
    watch = PersonalDataWatch()
    watch.remember("POST", "/v1/incidents/abc/residents", {"name": "张三丰", "id_number": ID_NUMBER})
    watch.remember("POST", "/v1/incidents/abc/donations", {"kind": "money", "donor": {"name": "李小龙"}})
    watch.check('{"name": "张三丰", "donor": {"name": "李小龙"}}', "a dispatcher's read")  # staff may read names
    for name in ("张三丰", "李小龙"):
        with pytest.raises(AssertionError, match="personal data"):
            watch.check(f'{{"organizations": ["{name}"]}}', "the public page", public=True)
