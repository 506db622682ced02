"""Notify finds a unit's contacts and webhook in its directory, never in events: a test that
needs a unit reached otherwise (two people on duty, an email, its own system) writes its own
copy of deploy/directory.yaml with those units changed."""

from pathlib import Path

import pytest
import yaml

from shared.config import REPO_ROOT

DEPLOYED_DIRECTORY = REPO_ROOT / "deploy" / "directory.yaml"


@pytest.fixture
def directory_with(tmp_path):
    """directory_with({unit_id: {field: value}}) -> a directory file with those units changed."""
    written = []

    def write(changes: dict[str, dict]) -> Path:
        raw = yaml.safe_load(DEPLOYED_DIRECTORY.read_text(encoding="utf-8"))
        for unit in raw["units"]:
            unit.update(changes.get(unit["id"], {}))
        path = tmp_path / f"directory-{len(written)}.yaml"
        path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        written.append(path)
        return path

    return write
