"""Open311 GeoReport v2, every endpoint, in JSON and in XML."""
import xml.etree.ElementTree as ET

import pytest

from tests.helpers import AUTH, DEMO_KEY, event

BASE = "/open311/v2"
FORM = {"api_key": DEMO_KEY, "service_code": "property_management", "address_id": "baian-xincun",
        "description": "楼道堆满杂物", "first_name": "三", "last_name": "张", "phone": "13800000000",
        "attribute[households_affected]": "6", "media_url": "https://img.example/a.jpg"}


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
        assert next(s for s in response.json if s["service_code"] == "property_management")["metadata"] is True
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
    request_id = (created.json[0]["service_request_id"] if fmt == "json"
                  else _xml(created).find("request").findtext("service_request_id"))
    shown = client.get(f"{BASE}/requests/{request_id}.json").json
    assert len(shown) == 1 and shown[0]["status"] == "open" and shown[0]["service_code"] == "property_management"
    assert shown[0]["media_url"] == "https://img.example/a.jpg"
    issue = client.get(f"/v1/issues/{request_id}", headers=AUTH).json
    assert issue["location"]["compound"] == "baian-xincun" and issue["attributes"] == {"households_affected": "6"}


def test_coordinates_pick_the_nearest_street(client):
    form = {k: v for k, v in FORM.items() if k != "address_id"} | {"lat": "30.755", "long": "108.414"}

    request_id = client.post(f"{BASE}/requests.json", data=form).json[0]["service_request_id"]

    assert client.get(f"/v1/issues/{request_id}", headers=AUTH).json["location"]["street"] == "wuqiao"


@pytest.mark.parametrize("change, status, says", [
    ({"api_key": "wrong"}, 403, "api_key"),
    ({"service_code": "ufo"}, 400, "service_code"),
    ({"address_id": "atlantis"}, 400, "address_id"),
    ({"description": "x" * 4001}, 400, "4000"),
    ({"media_url": "ftp://x/y"}, 400, "media_url"),
    ({"phone": "12"}, 400, "phone"),
    ({"colour": "red"}, 400, "colour"),
    ({"attribute[repeated]": "maybe"}, 400, "repeated"),
])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_requests_get_the_spec_error_list_and_nothing_is_stored(client, change, status, says, fmt):
    response = client.post(f"{BASE}/requests.{fmt}", data={**FORM, **change})

    assert response.status_code == status
    if fmt == "json":
        assert response.json[0]["code"] == status and says in " ".join(e["description"] for e in response.json)
    else:
        errors = _xml(response).findall("error")
        assert errors[0].findtext("code") == str(status) and says in " ".join(e.findtext("description") for e in errors)
    assert client.get(f"{BASE}/requests.json").json == []


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_requests_filter_by_id_code_status_and_dates(client, intake, fmt):
    first = client.post(f"{BASE}/requests.json", data=FORM).json[0]["service_request_id"]
    other_form = {k: v for k, v in FORM.items() if not k.startswith("attribute")} | {"service_code": "other"}
    assert client.post(f"{BASE}/requests.json", data=other_form).status_code == 201
    intake.subscriber.apply(event("issue.resolved", first, {"unit_id": "u", "resolution": "清理完毕"}).to_json())

    def ids(query):
        response = client.get(f"{BASE}/requests.{fmt}?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        if fmt == "json":
            return [r["service_request_id"] for r in response.json]
        return [r.findtext("service_request_id") for r in _xml(response).findall("request")]

    assert ids(f"service_request_id={first}&status=open") == [first]  # the id list overrides the rest
    assert ids("status=closed") == [first]
    assert ids("service_code=property_management") == [first]
    assert ids("start_date=2000-01-01T00:00:00Z&end_date=2000-01-02T00:00:00Z") == []
    closed = client.get(f"{BASE}/requests/{first}.json").json[0]
    assert closed["status_notes"] == "清理完毕" and closed["status"] == "closed"


@pytest.mark.parametrize("query", ["start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
                                   "status=lost", "service_code=ufo", "start_date=yesterday"])
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
    intake.subscriber.apply(event("issue.dispatched", request_id, {"unit_id": "baian-xincun-property",
                                                                   "unit_name": "百安新村物业公司", "tier": "small",
                                                                   "category": "property_management"}).to_json())

    discovery = client.get(f"{BASE}/discovery.{fmt}")
    token = client.get(f"{BASE}/tokens/{request_id}.{fmt}")
    updates = client.get(f"{BASE}/servicerequestupdates.{fmt}")

    assert discovery.status_code == token.status_code == updates.status_code == 200
    if fmt == "json":
        assert token.json == [{"service_request_id": request_id, "token": request_id}]
        assert [u["service_request_id"] for u in updates.json] == [request_id]
        assert "百安新村物业公司" in updates.json[0]["description"]
        assert client.get(f"{BASE}/requests/{request_id}.json").json[0]["agency_responsible"] == "百安新村物业公司"
    else:
        assert _xml(discovery).find("endpoints").find("endpoint").findtext("specification").endswith("GeoReport_v2")
        assert _xml(updates).find("request_update").findtext("service_request_id") == request_id


def test_an_unknown_jurisdiction_is_404(client):
    assert client.get(f"{BASE}/services.json?jurisdiction_id=beijing").status_code == 404
    assert client.get(f"{BASE}/services.json?jurisdiction_id=wanzhou").status_code == 200


def test_open311_never_shows_the_reporter(client):
    request_id = client.post(f"{BASE}/requests.json", data=FORM).json[0]["service_request_id"]

    body = client.get(f"{BASE}/requests/{request_id}.xml").get_data(as_text=True)

    assert "13800000000" not in body and "张" not in body
