"""Open311 fuzzed from its own document (GET /open311/v2/openapi.json), submitting with the
demo gateway's api_key: no input yields a 5xx, every answer is one the document declares, and
each comes in the format its path asks for, an .xml one well-formed XML, errors as the spec's
list of <error> with the status as <code>."""

import xml.etree.ElementTree as ET

import schemathesis

from tests.fuzz.fuzzing import FIGURES, call_and_check, service, sized
from tests.helpers import DEMO_KEY

INTAKE = service("intake", LOUDONG_RATE_LIMIT="1000000/second")  # the fuzzer is fast
schema = schemathesis.openapi.from_wsgi("/open311/v2/openapi.json", INTAKE.app)
BODILESS = {"HEAD", "OPTIONS"}  # Flask answers OPTIONS itself, with the allowed methods


def in_its_format(path: str, response) -> None:
    """The answer's media type follows the path's suffix; XML parses, and its errors are the
    spec's list."""
    xml = path.endswith(".xml")
    [content_type] = response.headers["content-type"]  # schemathesis: lower-cased, a list
    media_type = content_type.partition(";")[0]
    assert media_type == ("text/xml" if xml else "application/json"), media_type
    if not xml:
        return
    root = ET.fromstring(response.content)  # ParseError: not well-formed
    if response.status_code >= 400:
        assert root.tag == "errors" and len(root) > 0, root.tag
        assert {(e.tag, e.findtext("code")) for e in root} == {("error", str(response.status_code))}
        assert all(e.findtext("description") for e in root)
    else:
        assert root.tag != "errors"


@schema.parametrize()
@sized
def test_open311_answers_every_request_as_documented_in_its_format(case):
    answers = []

    def send(case):
        if case.method == "POST" and isinstance(case.body, dict):
            case.body["api_key"] = DEMO_KEY
        answers.append(case.call())
        return answers[-1]

    call_and_check("open311", case, send=send)

    if case.method in BODILESS or case.path.endswith("openapi.json"):
        return
    try:
        in_its_format(case.formatted_path, answers[-1])
    except AssertionError:
        FIGURES["open311"]["failures"] += 1
        raise
