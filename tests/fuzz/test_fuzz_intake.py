"""Intake's gateway API fuzzed from its document, as a gateway holding every scope: no input
yields a 5xx, every answer is one the document declares."""

from tests.fuzz.fuzzing import call_and_check, schema_of, service, sized
from tests.helpers import AUTH

INTAKE = service("intake", LOUDONG_RATE_LIMIT="1000000/second")  # the fuzzer is fast
schema = schema_of(INTAKE)


@schema.parametrize()
@sized
def test_intake_answers_every_request_as_documented(case):
    call_and_check("intake", case, AUTH)
