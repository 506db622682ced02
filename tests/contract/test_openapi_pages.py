"""Every service's OpenAPI document has a page for people at /v1/docs, public, naming every
operation of the document."""

import pytest

from tests.helpers import SERVICES, build


@pytest.mark.parametrize("service", SERVICES)
def test_the_page_names_every_operation_of_the_document(service, tmp_path):
    built = build(service, tmp_path)
    client = built.app.test_client()

    document = client.get("/v1/openapi.json").json
    page = client.get("/v1/docs")

    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for path, operations in document["paths"].items():
        for method in operations:
            assert f"{method.upper()} {path}" in html.replace("&lt;", "<").replace("&gt;", ">")
    built.store.dispose()
