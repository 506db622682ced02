"""Dispatch's API fuzzed from its document, as a street office (which is also a unit with an
inbox): no input yields a 5xx, every answer is one the document declares."""

from services.dispatch import units
from tests.fuzz.fuzzing import call_and_check, schema_of, service, sized

DISPATCH = service("dispatch")
schema = schema_of(DISPATCH)

with DISPATCH.store.unit_of_work() as uow:
    OFFICE = {"Authorization": f"Bearer {units.issue_token(uow, 'baianba-office')}"}


@schema.parametrize()
@sized
def test_dispatch_answers_every_request_as_documented(case):
    call_and_check("dispatch", case, OFFICE)
