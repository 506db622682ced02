"""SMS length as a phone counts it: 70 Chinese characters or 160 GSM-7 in one part, 67 or 153 per
part when split; a text is kept within the configured number of parts."""

import pytest

from services.notify.templates import fit, sms_parts


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a" * 160, ("gsm7", 160, 1)),
        ("a" * 161, ("gsm7", 161, 2)),
        ("a" * 306, ("gsm7", 306, 2)),
        ("a" * 307, ("gsm7", 307, 3)),
        ("{" * 80, ("gsm7", 160, 1)),  # an extension character costs two septets
        ("路" * 70, ("ucs2", 70, 1)),
        ("路" * 71, ("ucs2", 71, 2)),
        ("路" * 134, ("ucs2", 134, 2)),
        ("路" * 135, ("ucs2", 135, 3)),
        ("a" * 69 + "路", ("ucs2", 70, 1)),  # one Chinese character makes the whole text UCS-2
        ("😀" * 35, ("ucs2", 70, 1)),  # outside the BMP: two UCS-2 units each
    ],
)
def test_parts_are_counted_as_a_phone_counts_them(text, expected):
    assert sms_parts(text) == expected


def test_a_long_text_is_shortened_to_fit_its_parts():
    shortened = fit("路" * 300, 2)

    assert sms_parts(shortened)[2] == 2 and shortened.endswith("…")
    assert fit("短信", 1) == "短信"
