"""The directory refuses to load with a broken reference, naming the file and the entry."""

import pytest

from district import directory
from shared.config import REPO_ROOT


def test_the_wanzhou_sample_loads_with_its_four_streets():
    d = directory.load(REPO_ROOT / "deploy" / "directory.yaml")

    assert set(d.streets) == {"baianba", "wuqiao", "taibai", "zhonggulou"}
    assert set(d.categories) >= {"urban_management", "social_assistance", "property_management"}


def test_every_ladder_in_the_sample_ends_at_a_district_leader():
    d = directory.load(REPO_ROOT / "deploy" / "directory.yaml")

    for unit in d.units.values():
        top = unit
        while top.supervisor:
            top = d.units[top.supervisor]
        assert top.type == "district_leader", unit.id


@pytest.mark.parametrize(
    "entry, named",
    [
        (
            "- {id: x, name: X, type: street_office, covers: [nowhere], handles: [], "
            "contacts: [{name: a, phone: '+8613800000000'}]}",
            "unit x: covers unknown place 'nowhere'",
        ),
        (
            "- {id: x, name: X, type: street_office, covers: [], handles: [], supervisor: ghost, "
            "contacts: [{name: a, phone: '+8613800000000'}]}",
            "unit x: unknown supervisor 'ghost'",
        ),
    ],
)
def test_a_broken_reference_names_file_and_entry(tmp_path, entry, named):
    path = tmp_path / "directory.yaml"
    path.write_text(
        "categories: {other: {name: 其他}}\nplaces:\n  - {id: d, kind: district}\nunits:\n  "
        + entry
    )

    with pytest.raises(directory.DirectoryError) as raised:
        directory.load(path)

    assert str(path) in str(raised.value) and named in str(raised.value)
