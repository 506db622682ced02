"""Open311 GeoReport v2 documents, in JSON and in XML, from intake's issues."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime

from flask import Response

from district.directory import Category
from district.local_time import local
from services.intake.model import Issue

# XML element names of list documents: root -> item.
XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "service_request_updates": "request_update",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "keywords": "keyword",
}


# What XML 1.0 cannot carry even escaped (NUL and most C0 controls, lone surrogates, U+FFFE and
# U+FFFF): an error echoing one of them would not be well-formed, so it shows U+FFFD instead.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def w3c(value: datetime | None) -> str | None:
    """W3C date-time in Beijing time, as Open311 clients expect an offset."""
    return local(value).isoformat(timespec="seconds") if value else None


def service(category: Category) -> dict:
    return {
        "service_code": category.id,
        "service_name": category.name,
        "description": category.description,
        "metadata": bool(category.attributes),
        "type": "realtime",
        "keywords": ",".join(category.keywords),
        "group": category.group,
    }


def service_definition(category: Category) -> dict:
    return {
        "service_code": category.id,
        "attributes": [
            {
                "variable": True,
                "code": a.code,
                "datatype": a.datatype,
                "required": a.required,
                "datatype_description": a.description,
                "order": order,
                "description": a.description,
                **({"values": [{"key": k, "name": n} for k, n in a.values]} if a.values else {}),
            }
            for order, a in enumerate(category.attributes, start=1)
        ],
    }


def service_request(issue: Issue, directory) -> dict:
    names = {p.id: p.name for p in directory.places.values()}
    category_names = {c.id: c.name for c in directory.categories.values()}
    parts = (issue.street, issue.community, issue.compound, issue.building, issue.address)
    address = " ".join(names.get(str(part), str(part)) for part in parts if part)
    return {
        "service_request_id": issue.id,
        "status": issue.open311_status,
        "status_notes": issue.status_note,
        "service_name": category_names.get(issue.category or "", ""),
        "service_code": issue.category,
        "description": issue.description,
        "agency_responsible": issue.assigned_unit_name,
        "service_notice": None,
        "requested_datetime": w3c(issue.submitted_at),
        "updated_datetime": w3c(issue.updated_at),
        "expected_datetime": w3c(issue.resolve_deadline),
        "address": address,
        "address_id": issue.compound or issue.community or issue.street,
        "zipcode": None,
        "lat": issue.lat,
        "long": issue.lon,
        "media_url": issue.media_urls[0] if issue.media_urls else None,
    }


def render(root: str, payload, fmt: str, status: int = 200) -> Response:
    """`payload` is a list (a list document named `root`) or a dict (a single element `root`)."""
    if fmt == "json":
        return Response(
            json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json"
        )
    element = ET.Element(root)
    _fill(element, root, payload)
    body = ET.tostring(element, encoding="unicode", xml_declaration=False)
    return Response(
        '<?xml version="1.0" encoding="utf-8"?>' + body, status=status, mimetype="text/xml"
    )


def _fill(element: ET.Element, name: str, value) -> None:
    if isinstance(value, list):
        item = XML_ITEMS.get(name, "item")
        for entry in value:
            _fill(ET.SubElement(element, item), item, entry)
    elif isinstance(value, dict):
        for key, entry in value.items():
            _fill(ET.SubElement(element, key), key, entry)
    elif value is None:
        return
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = NOT_XML.sub("\ufffd", str(value))


def errors(fmt: str, status: int, *descriptions: str) -> Response:
    return render("errors", [{"code": status, "description": d} for d in descriptions], fmt, status)
