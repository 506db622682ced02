"""Open311 GeoReport v2, every endpoint, in JSON and in XML."""

import shutil
import threading
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from openapi_spec_validator import validate
from prometheus_client import REGISTRY
from werkzeug.datastructures import MultiDict

from services.intake import store as intake_store
from tests.fuzz.routes import api_operations, documented_operations
from tests.helpers import AUTH, DEMO_KEY, count_rows, emitted, event

BASE = "/open311/v2"
FORM = {
    "api_key": DEMO_KEY,
    "service_code": "property_management",
    "address_id": "baian-xincun",
    "description": "楼道堆满杂物",
    "first_name": "三",
    "last_name": "张",
    "phone": "13800000000",
    "attribute[households_affected]": "6",
    "media_url": "https://img.example/a.jpg",
}


def _xml(response):
    assert response.mimetype == "text/xml", response.get_data(as_text=True)
    return ET.fromstring(response.get_data())


@pytest.fixture
def client(intake):
    return intake.app.test_client()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_services_list_every_category(client, fmt):
    response = client.get(f"{BASE}/services.{fmt}")

    assert response.status_code == 200
    if fmt == "json":
        codes = [s["service_code"] for s in response.json]
        assert (
            next(s for s in response.json if s["service_code"] == "property_management")["metadata"]
            is True
        )
    else:
        codes = [s.findtext("service_code") for s in _xml(response).findall("service")]
    assert "urban_management" in codes and len(codes) == 7


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_service_definition_lists_its_attributes(client, fmt):
    response = client.get(f"{BASE}/services/property_management.{fmt}")

    if fmt == "json":
        codes = [a["code"] for a in response.json["attributes"]]
    else:
        codes = [a.findtext("code") for a in _xml(response).find("attributes").findall("attribute")]
    assert codes == ["households_affected", "repeated"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_posting_a_request_creates_an_issue_that_reads_back(client, fmt):
    created = client.post(f"{BASE}/requests.{fmt}", data=FORM)

    assert created.status_code == 201
    request_id = (
        created.json[0]["service_request_id"]
        if fmt == "json"
        else _xml(created).find("request").findtext("service_request_id")
    )
    shown = client.get(f"{BASE}/requests/{request_id}.json").json
    assert (
        len(shown) == 1
        and shown[0]["status"] == "open"
        and shown[0]["service_code"] == "property_management"
    )
    assert shown[0]["media_url"] == "https://img.example/a.jpg"
    issue = client.get(f"/v1/issues/{request_id}", headers=AUTH).json
    assert issue["location"]["compound"] == "baian-xincun" and issue["attributes"] == {
        "households_affected": "6"
    }


def test_coordinates_pick_the_nearest_street(client):
    form = {k: v for k, v in FORM.items() if k != "address_id"} | {
        "lat": "30.755",
        "long": "108.414",
    }

    request_id = client.post(f"{BASE}/requests.json", data=form).json[0]["service_request_id"]

    assert (
        client.get(f"/v1/issues/{request_id}", headers=AUTH).json["location"]["street"] == "wuqiao"
    )


@pytest.mark.parametrize(
    "change, status, says",
    [
        ({"api_key": "wrong"}, 403, "api_key"),
        ({"service_code": "ufo"}, 400, "service_code"),
        ({"address_id": "atlantis"}, 400, "address_id"),
        ({"description": "x" * 4001}, 400, "4000"),
        ({"media_url": "ftp://x/y"}, 400, "media_url"),
        ({"phone": "12"}, 400, "phone"),
        ({"colour": "red"}, 400, "colour"),
        ({"attribute[repeated]": "maybe"}, 400, "repeated"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_requests_get_the_spec_error_list_and_nothing_is_stored(
    client, change, status, says, fmt
):
    response = client.post(f"{BASE}/requests.{fmt}", data={**FORM, **change})

    assert response.status_code == status
    if fmt == "json":
        assert response.json[0]["code"] == status and says in " ".join(
            e["description"] for e in response.json
        )
    else:
        errors = _xml(response).findall("error")
        assert errors[0].findtext("code") == str(status) and says in " ".join(
            e.findtext("description") for e in errors
        )
    assert client.get(f"{BASE}/requests.json").json == []


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_requests_filter_by_id_code_status_and_dates(client, intake, fmt):
    first = client.post(f"{BASE}/requests.json", data=FORM).json[0]["service_request_id"]
    other_form = {k: v for k, v in FORM.items() if not k.startswith("attribute")} | {
        "service_code": "other"
    }
    assert client.post(f"{BASE}/requests.json", data=other_form).status_code == 201
    intake.subscriber.apply(
        event("issue.resolved", first, {"unit_id": "u", "resolution": "清理完毕"}).to_json()
    )

    def ids(query):
        response = client.get(f"{BASE}/requests.{fmt}?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        if fmt == "json":
            return [r["service_request_id"] for r in response.json]
        return [r.findtext("service_request_id") for r in _xml(response).findall("request")]

    assert ids(f"service_request_id={first}&status=open") == [
        first
    ]  # the id list overrides the rest
    assert ids("status=closed") == [first]
    assert ids("service_code=property_management") == [first]
    assert ids("start_date=2000-01-01T00:00:00Z&end_date=2000-01-02T00:00:00Z") == []
    closed = client.get(f"{BASE}/requests/{first}.json").json[0]
    assert closed["status_notes"] == "清理完毕" and closed["status"] == "closed"


@pytest.mark.parametrize(
    "query",
    [
        "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
        "status=lost",
        "service_code=ufo",
        "start_date=yesterday",
    ],
)
def test_bad_request_queries_are_400(client, query):
    response = client.get(f"{BASE}/requests.json?{query}")

    assert response.status_code == 400 and response.json[0]["code"] == 400


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_request_token_and_service_are_404(client, fmt):
    for path in ("requests/nope", "tokens/nope", "services/nope"):
        response = client.get(f"{BASE}/{path}.{fmt}")
        assert response.status_code == 404


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_tokens_and_updates(client, intake, fmt):
    request_id = client.post(f"{BASE}/requests.json", data=FORM).json[0]["service_request_id"]
    intake.subscriber.apply(
        event(
            "issue.dispatched",
            request_id,
            {
                "unit_id": "baian-xincun-property",
                "unit_name": "百安新村物业公司",
                "tier": "small",
                "category": "property_management",
            },
        ).to_json()
    )

    discovery = client.get(f"{BASE}/discovery.{fmt}")
    token = client.get(f"{BASE}/tokens/{request_id}.{fmt}")
    updates = client.get(f"{BASE}/servicerequestupdates.{fmt}")

    assert discovery.status_code == token.status_code == updates.status_code == 200
    if fmt == "json":
        assert token.json == [{"service_request_id": request_id, "token": request_id}]
        assert [u["service_request_id"] for u in updates.json] == [request_id]
        assert "百安新村物业公司" in updates.json[0]["description"]
        assert (
            client.get(f"{BASE}/requests/{request_id}.json").json[0]["agency_responsible"]
            == "百安新村物业公司"
        )
    else:
        assert (
            _xml(discovery)
            .find("endpoints")
            .find("endpoint")
            .findtext("specification")
            .endswith("GeoReport_v2")
        )
        assert _xml(updates).find("request_update").findtext("service_request_id") == request_id


def test_an_unknown_jurisdiction_is_404(client):
    assert client.get(f"{BASE}/services.json?jurisdiction_id=beijing").status_code == 404
    assert client.get(f"{BASE}/services.json?jurisdiction_id=wanzhou").status_code == 200


def test_open311_never_shows_the_reporter(client):
    request_id = client.post(f"{BASE}/requests.json", data=FORM).json[0]["service_request_id"]

    body = client.get(f"{BASE}/requests/{request_id}.xml").get_data(as_text=True)

    assert "13800000000" not in body and "张" not in body


# FixMyStreet's Open311 client (perllib/Open311.pm) sends its report's own fields as attributes
# no service definition declares, one media_url per photo, and blank fields as ''.
FMS_FORM = {
    "api_key": DEMO_KEY,
    "service_code": "property_management",
    "lat": "30.80",
    "long": "108.39",
    "description": "title: 楼道堆满杂物\n\ndetail: 三楼楼道堆满杂物\n\nSubmitted via FixMyStreet",
    "first_name": "三",
    "last_name": "张",
    "email": "z@example.org",
    "phone": "13800000000",
    "attribute[households_affected]": "6",
    "attribute[fixmystreet_id]": "1001",
    "attribute[title]": "楼道堆满杂物",
    "attribute[description]": "三楼楼道堆满杂物",
    "attribute[report_url]": "https://fms.example/report/1001",
    "attribute[easting]": "530000",
    "attribute[northing]": "180000",
    "attribute[closest_address]": "Nearest road: 百安路\n\nNearest postcode: 404000",
}
FMS_EXTRAS = {
    k[len("attribute[") : -1]: v
    for k, v in FMS_FORM.items()
    if k.startswith("attribute[") and k != "attribute[households_affected]"
}


def _request_id(response, fmt="json"):
    if fmt == "json":
        return response.json[0]["service_request_id"]
    return _xml(response).find("request").findtext("service_request_id")


def _accepted(category="property_management"):
    return (
        REGISTRY.get_sample_value(
            "loudong_intake_issues_accepted_total", {"channel": "app", "category": category}
        )
        or 0
    )


def _api_key(headers):
    return headers["Authorization"].removeprefix("Bearer ")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_accepts_fixmystreet_extra_attributes_and_shows_them_to_its_own_gateway_alone(
    client, make_key, fmt
):
    created = client.post(f"{BASE}/requests.{fmt}", data=FMS_FORM)

    assert created.status_code == 201, created.get_data(as_text=True)
    request_id = _request_id(created, fmt)
    own = client.get(f"/v1/issues/{request_id}", headers=AUTH).json
    assert own["extra_attributes"] == FMS_EXTRAS
    assert own["attributes"] == {"households_affected": "6"} and own["external_id"] == "1001"
    other = client.get(
        f"/v1/issues/{request_id}", headers=make_key("dashboard", "read", "read:all")
    )
    assert other.status_code == 200 and "extra_attributes" not in other.json
    assert "extra_attributes" not in client.get("/v1/issues", headers=AUTH).json["issues"][0]
    public = [
        client.get(f"{BASE}/requests/{request_id}.{f}").get_data(as_text=True)
        for f in ("json", "xml")
    ]
    public.append(client.get(f"{BASE}/requests.json").get_data(as_text=True))
    assert not any("fms.example" in body or "530000" in body or "百安路" in body for body in public)


def test_the_client_s_own_attributes_stay_off_the_issue_submitted_event(client, intake):
    client.post(f"{BASE}/requests.json", data=FMS_FORM)

    [submitted] = emitted(intake.store, "issue.submitted")

    assert submitted.payload["attributes"] == {"households_affected": "6"}
    assert "fms.example" not in submitted.to_json() and "extra_attributes" not in submitted.payload


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_declared_attribute_with_a_wrong_value_is_still_400_among_fixmystreet_extras(client, fmt):
    wrong = {**FMS_FORM, "attribute[households_affected]": "many"}

    response = client.post(f"{BASE}/requests.{fmt}", data=wrong)

    assert response.status_code == 400
    descriptions = (
        [e["description"] for e in response.json]
        if fmt == "json"
        else [e.findtext("description") for e in _xml(response).findall("error")]
    )
    assert descriptions == ["attribute[households_affected]: must be a number"]
    assert client.get(f"{BASE}/requests.json").json == []


@pytest.mark.parametrize(
    "change, says",
    [
        ({f"attribute[extra_{i}]": "x" for i in range(14)}, "at most 20"),  # FMS_FORM has 7 already
        ({"attribute[report_url]": "x" * 4001}, "attribute[report_url]: at most 4000 characters"),
        ({"attribute[not a name]": "x"}, "attribute[not a name]: not a question of this category"),
        ({"attribute[" + "k" * 65 + "]": "x"}, "attribute[" + "k" * 64 + "]"),
        ({"attribute[title]": "bad\u0007bell"}, "attribute[title]: contains control characters"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_too_many_too_long_or_oddly_named_extra_attributes_are_400_naming_them(
    client, change, says, fmt
):
    response = client.post(f"{BASE}/requests.{fmt}", data={**FMS_FORM, **change})

    assert response.status_code == 400
    descriptions = (
        [e["description"] for e in response.json]
        if fmt == "json"
        else [e.findtext("description") for e in _xml(response).findall("error")]
    )
    assert any(says in d for d in descriptions), descriptions
    assert client.get(f"{BASE}/requests.json").json == []


def test_blank_attributes_count_as_absent_as_the_spec_says(client):
    form = {**FMS_FORM, "attribute[households_affected]": "", "attribute[category]": ""}

    created = client.post(f"{BASE}/requests.json", data=form)

    assert created.status_code == 201, created.get_data(as_text=True)
    issue = client.get(f"/v1/issues/{_request_id(created)}", headers=AUTH).json
    assert issue["attributes"] == {} and "category" not in issue["extra_attributes"]


def test_a_multivalue_attribute_every_media_url_and_fixmystreet_s_deviceid_are_taken(client):
    form = [
        *FORM.items(),
        ("attribute[hazards][]", "stairs"),
        ("attribute[hazards][]", "exit"),
        ("media_url", "https://img.example/b.jpg"),
        ("deviceid", "fixmystreet-app"),
    ]

    created = client.post(f"{BASE}/requests.json", data=MultiDict(form))

    assert created.status_code == 201, created.get_data(as_text=True)
    issue = client.get(f"/v1/issues/{_request_id(created)}", headers=AUTH).json
    assert issue["extra_attributes"] == {"hazards": "stairs,exit"}
    assert issue["media_urls"] == ["https://img.example/a.jpg", "https://img.example/b.jpg"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_repeated_post_with_the_same_fixmystreet_id_returns_the_first_request_counted_once(
    client, intake, fmt
):
    before = _accepted()

    first = client.post(f"{BASE}/requests.{fmt}", data=FMS_FORM)
    again = client.post(f"{BASE}/requests.{fmt}", data=FMS_FORM)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_data() == first.get_data()
    listed = client.get(f"{BASE}/requests.json").json
    assert [r["service_request_id"] for r in listed] == [_request_id(first, fmt)]
    assert len(emitted(intake.store, "issue.submitted")) == 1
    assert _accepted() - before == 1


def test_an_open311_repeat_is_known_by_its_idempotency_key_header(client):
    headers = {"Idempotency-Key": "fms-retry-7"}

    first = client.post(f"{BASE}/requests.json", data=FORM, headers=headers)
    again = client.post(f"{BASE}/requests.json", data=FORM, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert _request_id(again) == _request_id(first)
    assert len(client.get(f"{BASE}/requests.json").json) == 1


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_same_fixmystreet_id_with_another_body_is_400_naming_the_conflict(client, fmt):
    request_id = _request_id(client.post(f"{BASE}/requests.json", data=FMS_FORM))

    response = client.post(f"{BASE}/requests.{fmt}", data={**FMS_FORM, "description": "另一件事"})

    assert response.status_code == 400
    if fmt == "json":
        [error] = response.json
        assert error["code"] == 400
        description = error["description"]
    else:
        [error] = _xml(response).findall("error")
        description = error.findtext("description")
    assert "attribute[fixmystreet_id] 1001" in description and request_id in description
    assert len(client.get(f"{BASE}/requests.json").json) == 1


def test_the_same_fixmystreet_id_from_another_gateway_is_another_request(client, make_key):
    other_key = _api_key(make_key("fixmystreet-2"))

    first = client.post(f"{BASE}/requests.json", data=FMS_FORM)
    other = client.post(f"{BASE}/requests.json", data={**FMS_FORM, "api_key": other_key})

    assert (first.status_code, other.status_code) == (201, 201)
    assert _request_id(other) != _request_id(first)


def test_two_fixmystreet_retries_racing_make_one_request(intake):
    results, start = [], threading.Barrier(4)

    def send():
        client = intake.app.test_client()
        start.wait()
        response = client.post(f"{BASE}/requests.json", data=FMS_FORM)
        results.append((response.status_code, _request_id(response)))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(code for code, _ in results) == [200, 200, 200, 201]
    assert len({request_id for _, request_id in results}) == 1
    assert count_rows(intake.store, intake_store.issues) == 1


def test_accepted_open311_requests_are_counted(client):
    before = _accepted("other")

    client.post(f"{BASE}/requests.json", data={**FORM, "service_code": "other"})

    assert _accepted("other") - before == 1


def test_refused_open311_requests_are_counted(client):
    def refused():
        return (
            REGISTRY.get_sample_value(
                "loudong_intake_submissions_rejected_total", {"status": "403"}
            )
            or 0
        )

    before = refused()

    client.post(f"{BASE}/requests.json", data={**FORM, "api_key": "wrong"})

    assert refused() - before == 1


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_body_over_the_limit_is_413_in_the_spec_error_list(client, fmt):
    response = client.post(f"{BASE}/requests.{fmt}", data={**FORM, "description": "楼" * 30_000})

    assert response.status_code == 413
    if fmt == "json":
        assert response.json[0]["code"] == 413 and "KiB" in response.json[0]["description"]
    else:
        assert _xml(response).find("error").findtext("code") == "413"


def test_the_document_is_valid_public_and_lists_every_open311_route(client, intake):
    answer = client.get(f"{BASE}/openapi.json")

    assert answer.status_code == 200  # no api_key: public, like every read
    doc = answer.json
    validate(doc)
    assert documented_operations(doc) == api_operations(intake.app, "open311", f"{BASE}/")
    post = doc["paths"][f"{BASE}/requests.{{fmt}}"]["post"]
    assert list(post["requestBody"]["content"]) == ["application/x-www-form-urlencoded"]
    form = doc["components"]["schemas"]["RequestForm"]
    assert {"service_code", "lat", "long", "attribute[households_affected]"} <= set(
        form["properties"]
    )
    refusals = [post["responses"][code]["content"] for code in ("400", "403", "413", "429")]
    assert all(
        answer[media]["schema"] == {"$ref": "#/components/schemas/Errors"}
        for answer in refusals
        for media in ("application/json", "text/xml")
    )


def _errors(response, fmt: str) -> list[tuple[int, str]]:
    """(code, description) of each error of the spec's list, in either format."""
    if fmt == "json":
        assert response.mimetype == "application/json", response.get_data(as_text=True)
        return [(e["code"], e["description"]) for e in response.json]
    return [(int(e.findtext("code")), e.findtext("description")) for e in _xml(response)]


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("get", "requests.html", 404),
        ("get", "nothing/here.xml", 404),
        ("put", "requests.xml", 405),
        ("delete", "requests/some-id.json", 405),
        ("post", "services.xml", 405),
    ],
)
def test_a_path_or_method_this_api_does_not_route_is_the_spec_s_error_list(
    client, method, path, status
):
    response = client.open(f"{BASE}/{path}", method=method.upper())

    assert response.status_code == status
    fmt = "xml" if path.endswith(".xml") else "json"
    assert [code for code, _ in _errors(response, fmt)] == [status]


@pytest.mark.parametrize(
    "path", ["services/%00%01.xml", "services.xml?jurisdiction_id=%00", "requests/%1B.xml"]
)
def test_an_xml_error_echoing_a_control_character_is_still_well_formed(client, path):
    response = client.get(f"{BASE}/{path}")

    [(code, description)] = _errors(response, "xml")  # ParseError if not well-formed
    assert code == 404 and "\ufffd" in description


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_store_out_of_reach_is_the_spec_s_503_with_retry_after(client, intake, tmp_path, fmt):
    assert client.get(f"{BASE}/requests.json").status_code == 200
    intake.store.dispose()
    shutil.rmtree(tmp_path / "data")  # the SQLite file and its folder are gone

    response = client.get(f"{BASE}/requests.{fmt}")

    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    [(code, description)] = _errors(response, fmt)
    assert code == 503 and "database" in description


def _post_bytes(client, fmt: str, extra: bytes):
    body = urlencode({**FORM, "description": "楼道堆满杂物"}).encode() + b"&" + extra
    return client.post(
        f"{BASE}/requests.{fmt}", data=body, content_type="application/x-www-form-urlencoded"
    )


@pytest.mark.parametrize(
    "extra",
    [
        b"attribute[note]=%ED%A0%80",  # a lone surrogate, encoded
        b"attribute[note]=caf%E9",  # latin-1
        b"attribute[note]=\xff\xfe",  # raw bytes, not even percent-encoded
        b"attribute[%C0%AF]=x",  # overlong, in a field's name
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_form_that_is_not_utf8_is_400_and_nothing_is_stored(client, intake, extra, fmt):
    response = _post_bytes(client, fmt, extra)

    [(code, description)] = _errors(response, fmt)
    assert (response.status_code, code) == (400, 400) and "UTF-8" in description
    assert count_rows(intake.store, intake_store.issues) == 0


@pytest.mark.parametrize(
    "change, status, says",
    [
        ({"description": "堵了\x00"}, 400, "description: contains control characters"),
        ({"service_code": "\x00"}, 400, "service_code"),
        ({"api_key": DEMO_KEY + "\x00"}, 403, "api_key"),
        ({"attribute[note]": "a\x00b"}, 400, "attribute[note]: contains control characters"),
        ({"lat": "9" * 5000, "long": "108.4"}, 400, "lat and long must be inside China"),
        ({"lat": "1e400", "long": "-1e400"}, 400, "lat and long must be inside China"),
        ({"lat": "0x1p4", "long": "108.4"}, 400, "lat and long must be numbers"),
        ({"address_string": "x" * 10**6}, 413, "KiB"),
        ({"attribute[]": "x"}, 400, "attribute[]: not a question"),
        ({"attribute[\x00]": "x"}, 400, "attribute["),
        ({"attribute[a][b]": "x"}, 400, "attribute[a][b]: not a field"),
        ({"attribute[a]]": "x"}, 400, "attribute[a]]: not a field"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_hostile_form_fields_are_refused_naming_them(client, intake, change, status, says, fmt):
    response = client.post(f"{BASE}/requests.{fmt}", data={**FORM, **change})

    errors = _errors(response, fmt)
    assert response.status_code == status and {code for code, _ in errors} == {status}
    assert any(says in description for _, description in errors), errors
    assert count_rows(intake.store, intake_store.issues) == 0


@pytest.mark.parametrize(
    "again, says",
    [
        (("service_code", "other"), "service_code"),
        (("api_key", DEMO_KEY), "api_key"),
        (("description", "另一件事"), "description"),
        (("attribute[households_affected]", "7"), "attribute[households_affected]"),
        (("attribute[households_affected][]", "7"), "attribute[households_affected]"),
    ],
)
def test_a_field_sent_twice_is_400_naming_it_unless_it_may_repeat(client, intake, again, says):
    form = MultiDict(FORM.items())
    form.add(*again)

    response = client.post(f"{BASE}/requests.json", data=form)

    assert response.status_code == 400
    assert (400, f"{says}: given more than once") in _errors(response, "json")
    assert count_rows(intake.store, intake_store.issues) == 0
