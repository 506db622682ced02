"""An independent Open311 client from PyPI (georeport), used as it is, against intake served
over real HTTP: what it reads in JSON and in XML must be what the spec says."""

import threading

import pytest
import requests
from georeport import GeoReport
from werkzeug.serving import make_server

from tests.helpers import DEMO_KEY, build


@pytest.fixture
def open311_url(tmp_path):
    intake = build("intake", tmp_path)
    server = make_server("127.0.0.1", 0, intake.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/open311/v2"
    server.shutdown()
    intake.store.dispose()


@pytest.fixture
def request_id(open311_url):
    response = requests.post(
        f"{open311_url}/requests.json",
        data={
            "api_key": DEMO_KEY,
            "service_code": "urban_management",
            "address_string": "文化街小巷 路灯不亮",
            "description": "文化街小巷的路灯坏了一个月",
            "phone": "13800000000",
        },
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return response.json()[0]["service_request_id"]


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_the_client_reads_services_and_their_definitions(open311_url, output_format):
    client = GeoReport(open311_url, jurisdiction="wanzhou", output_format=output_format)

    services = client.get_service_list()
    definition = client.get_service_definition("property_management")

    attributes = (
        definition["attributes"]["attribute"]
        if output_format == "xml"
        else definition["attributes"]
    )
    assert {s["service_code"] for s in services} >= {"urban_management", "property_management"}
    assert {a["code"] for a in attributes} == {"households_affected", "repeated"}


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_the_client_follows_a_request_it_did_not_submit(open311_url, request_id, output_format):
    client = GeoReport(open311_url, jurisdiction="wanzhou", output_format=output_format)

    one = client.get_service_request(request_id)
    listed = client.get_service_requests(service_request_id=request_id)

    assert one["service_request_id"] == request_id
    assert one["status"] == "open" and one["service_code"] == "urban_management"
    assert "文化街小巷" in one["address"] and "太白街道" in one["address"]
    rows = (
        listed if isinstance(listed, list) else [listed]
    )  # xmltodict gives a dict for a single element
    assert [r["service_request_id"] for r in rows] == [request_id]


def test_the_client_filters_by_status_and_dates(open311_url, request_id):
    client = GeoReport(open311_url, output_format="json")

    assert [r["service_request_id"] for r in client.get_service_requests(status="open")] == [
        request_id
    ]
    assert client.get_service_requests(status="closed") == []
    assert (
        client.get_service_requests(
            start_date="2001-01-01T00:00:00Z", end_date="2001-02-01T00:00:00Z"
        )
        == []
    )


def test_a_fixmystreet_post_retried_after_a_timeout_is_one_request_the_client_reads(open311_url):
    form = {
        "api_key": DEMO_KEY,
        "jurisdiction_id": "wanzhou",
        "service_code": "property_management",
        "lat": "30.80",
        "long": "108.39",
        "description": "三楼楼道堆满杂物",
        "first_name": "三",
        "last_name": "张",
        "email": "z@example.org",
        "attribute[fixmystreet_id]": "1001",
        "attribute[title]": "楼道堆满杂物",
        "attribute[report_url]": "https://fms.example/report/1001",
        "attribute[easting]": "530000",
        "attribute[northing]": "180000",
        "attribute[closest_address]": "Nearest road: 百安路\n\n",
        "media_url": ["https://img.example/1.jpg", "https://img.example/2.jpg"],
    }

    first = requests.post(f"{open311_url}/requests.xml", data=form, timeout=5)
    again = requests.post(f"{open311_url}/requests.xml", data=form, timeout=5)

    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert again.text == first.text
    request_id = GeoReport(open311_url, output_format="xml").get_service_requests()[
        "service_request_id"
    ]
    assert f"<service_request_id>{request_id}</service_request_id>" in first.text
    shown = requests.get(f"{open311_url}/requests/{request_id}.json", timeout=5).text
    assert "fms.example" not in shown and "530000" not in shown
