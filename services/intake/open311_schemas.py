"""What Open311 GeoReport v2 takes and answers, as marshmallow schemas for its OpenAPI document
(services.intake.open311_openapi): the form POST /requests takes, whose fields are the only
ones services.intake.open311 accepts, and the documents open311_format renders, each with its
XML element."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from district.directory import Attribute, Directory
from services.intake.schemas import CHINA_LAT, CHINA_LON, MAX_EXTRA_ATTRIBUTES
from shared.openapi import Answer

MAX_DESCRIPTION, MAX_MEDIA = 4000, 10
FORM_DESCRIPTION = (
    "Form-encoded. A location is lat and long, address_string or address_id. "
    "attribute[code] answers a question of the service's definition; a client may add up to "
    f"{MAX_EXTRA_ATTRIBUTES} attribute[code] of its own (code: 1-64 letters, digits, _ . : -), "
    "which only its own gateway sees. No other field is taken."
)


def _text(description: str = "", **kwargs) -> fields.String:
    return fields.String(metadata={"description": description} if description else {}, **kwargs)


class RequestFormSchema(Schema):
    """POST /requests.{fmt}'s fields, besides attribute[code]."""

    class Meta:
        unknown = RAISE  # documented as additionalProperties: false

    api_key = _text("a key with the submit scope", required=True)
    jurisdiction_id = _text("this district's, or none")
    service_code = _text(required=True)
    lat = fields.Float(validate=validate.Range(*CHINA_LAT), metadata={"description": "WGS84"})
    long = fields.Float(validate=validate.Range(*CHINA_LON), metadata={"description": "WGS84"})
    address_string = _text("naming a street, community or compound of the district")
    address_id = _text()
    email = fields.Email()
    device_id = _text()
    deviceid = _text("FixMyStreet's spelling of device_id")
    account_id = _text()
    first_name = _text()
    last_name = _text()
    phone = _text(
        "a Chinese mobile number or an E.164 number",
        validate=validate.Regexp(r"^(?:\+?86)?1[3-9][0-9]{9}$|^\+[1-9][0-9]{7,14}$"),
    )
    description = _text(required=True, validate=validate.Length(min=1, max=MAX_DESCRIPTION))
    media_url = fields.List(
        fields.Url(schemes={"http", "https"}, metadata={"format": "uri"}),
        validate=validate.Length(max=MAX_MEDIA),
        metadata={"description": "one per photo, as FixMyStreet sends them"},
    )


FORM_FIELDS = frozenset(RequestFormSchema().fields)
# One of these makes a location (services.intake.model.locate).
LOCATIONS = [
    {"required": ["lat", "long"]},
    {"required": ["address_string"]},
    {"required": ["address_id"]},
]


def district_form(directory: Directory) -> type[Schema]:
    """The form with the district's own service codes, jurisdiction and places, and an
    attribute[code] (for a multivaluelist attribute[code][]) for each question it asks."""
    district = {
        "service_code": fields.String(
            required=True, validate=validate.OneOf(sorted(directory.categories))
        ),
        "jurisdiction_id": fields.String(validate=validate.OneOf([directory.district])),
        "address_id": fields.String(validate=validate.OneOf(sorted(directory.places))),
        "fixmystreet_id": _text(
            "the client's reference: a repeat with it is answered 200",
            data_key="attribute[fixmystreet_id]",
            validate=validate.Length(min=1, max=100),
        ),
    }
    for category in directory.categories.values():
        for question in category.attributes:
            district.setdefault(f"attribute_{question.code}", _answer_to(question))
    return type("DistrictRequestFormSchema", (RequestFormSchema,), district)


def _answer_to(question: Attribute) -> fields.Field:
    keys = [key for key, _name in question.values]
    name, text = f"attribute[{question.code}]", question.description
    if question.datatype == "multivaluelist":
        one_of = fields.String(validate=validate.OneOf(keys))
        return fields.List(one_of, data_key=f"{name}[]", metadata={"description": text})
    if question.datatype == "singlevaluelist":
        return _text(text, data_key=name, validate=validate.OneOf(keys))
    if question.datatype == "number":
        return _text(text, data_key=name, validate=validate.Regexp(r"^-?[0-9]+(\.[0-9]+)?$"))
    return _text(text, data_key=name, validate=validate.Length(max=MAX_DESCRIPTION))


def _wrapped(name: str, inner: fields.Field, **kwargs) -> fields.List:
    """A list inside a document: in XML, <name> around its items."""
    return fields.List(inner, metadata={"xml": {"name": name, "wrapped": True}}, **kwargs)


def _one_of(*values: str) -> fields.String:
    return fields.String(required=True, validate=validate.OneOf(values))


def _moment(**kwargs) -> fields.String:
    return fields.String(metadata={"format": "date-time"}, **kwargs)


class ErrorSchema(Answer):
    code = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    description = fields.String(required=True)


class EndpointSchema(Answer):
    specification = fields.String(required=True)
    url = fields.String(required=True)
    changeset = fields.String(required=True)
    type = _one_of("production", "test")
    formats = _wrapped(
        "formats", fields.String(metadata={"xml": {"name": "format"}}), required=True
    )


class DiscoverySchema(Answer):
    changeset = fields.String(required=True)
    contact = fields.String(required=True)
    key_service = fields.String(required=True)
    endpoints = _wrapped("endpoints", fields.Nested(EndpointSchema), required=True)


class ServiceSchema(Answer):
    service_code = fields.String(required=True)
    service_name = fields.String(required=True)
    description = fields.String(required=True)
    metadata = fields.Boolean(required=True)
    type = _one_of("realtime", "batch", "blackbox")
    keywords = fields.String(required=True, metadata={"description": "comma-separated"})
    group = fields.String(required=True)


class ValueSchema(Answer):
    key = fields.String(required=True)
    name = fields.String(required=True)


class AttributeSchema(Answer):
    variable = fields.Boolean(required=True)
    code = fields.String(required=True)
    datatype = _one_of("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
    required = fields.Boolean(required=True)
    datatype_description = fields.String(required=True)
    order = fields.Integer(required=True)
    description = fields.String(required=True)
    values = _wrapped("values", fields.Nested(ValueSchema))


class ServiceDefinitionSchema(Answer):
    service_code = fields.String(required=True)
    attributes = _wrapped("attributes", fields.Nested(AttributeSchema), required=True)


class ServiceRequestSchema(Answer):
    service_request_id = fields.String(required=True)
    status = _one_of("open", "closed")
    status_notes = fields.String(allow_none=True)
    service_name = fields.String(allow_none=True)
    service_code = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    agency_responsible = fields.String(allow_none=True)
    service_notice = fields.String(allow_none=True)
    requested_datetime = _moment(allow_none=True)
    updated_datetime = _moment(allow_none=True)
    expected_datetime = _moment(allow_none=True)
    address = fields.String(allow_none=True)
    address_id = fields.String(allow_none=True)
    zipcode = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    long = fields.Float(allow_none=True)
    media_url = fields.String(allow_none=True)


class RequestAcceptedSchema(Answer):
    service_request_id = fields.String(required=True)
    service_notice = fields.String(allow_none=True)
    account_id = fields.String(allow_none=True)


class TokenSchema(Answer):
    service_request_id = fields.String(required=True)
    token = fields.String(required=True)


class RequestUpdateSchema(Answer):
    update_id = fields.String(required=True)
    service_request_id = fields.String(required=True)
    status = _one_of("open", "closed")
    updated_datetime = _moment(required=True)
    description = fields.String(required=True)
    media_url = fields.String(allow_none=True)


# Each document's schema and its XML element; nested ones before those they are nested in.
DOCUMENTS = {
    "Error": (ErrorSchema, "error"),
    "Endpoint": (EndpointSchema, "endpoint"),
    "Discovery": (DiscoverySchema, "discovery"),
    "Service": (ServiceSchema, "service"),
    "Value": (ValueSchema, "value"),
    "Attribute": (AttributeSchema, "attribute"),
    "ServiceDefinition": (ServiceDefinitionSchema, "service_definition"),
    "ServiceRequest": (ServiceRequestSchema, "request"),
    "RequestAccepted": (RequestAcceptedSchema, "request"),
    "Token": (TokenSchema, "request"),
    "RequestUpdate": (RequestUpdateSchema, "request_update"),
}
