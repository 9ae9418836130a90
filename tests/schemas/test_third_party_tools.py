"""The schema files work in other tools as the README says: check-jsonschema, offline, with
no flags but --schemafile, on every example (split one document per file first)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.check_jsonschema import check_jsonschema
from tests.support.manifests import settings, user, write_manifests

REPO = Path(__file__).resolve().parents[2]
MANIFEST_SCHEMA = REPO / "schemas" / "manifest.schema.json"
EXAMPLES = sorted(p for p in (REPO / "examples").glob("*.yaml"))


def split_documents(manifest: Path, into: Path) -> list[Path]:
    """The README's split: one file per document, with coreutils' csplit."""
    into.mkdir()
    subprocess.run(
        [
            *("csplit", "--quiet", "--elide-empty-files", "--prefix", f"{into}/doc-"),
            *("--suffix-format", "%02d.yaml", str(manifest), "/^---/", "{*}"),
        ],
        check=True,
    )
    return sorted(into.glob("doc-*.yaml"))


def test_there_are_examples() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_passes_check_jsonschema_offline(example: Path, tmp_path: Path) -> None:
    documents = split_documents(example, tmp_path / "split")
    assert len(documents) == example.read_text().count("\n---\n") + 1
    result = check_jsonschema("--schemafile", MANIFEST_SCHEMA, *documents, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_a_bad_document_fails_naming_its_field(tmp_path: Path) -> None:
    write_manifests(tmp_path / "user.yaml", [user("ops", email="not-an-address")])
    write_manifests(tmp_path / "smtp.yaml", [settings("primary", port="587")])
    result = check_jsonschema("--schemafile", MANIFEST_SCHEMA, "user.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "user.yaml::$.spec.email: 'not-an-address' is not a 'email'" in result.stdout
    result = check_jsonschema("--schemafile", MANIFEST_SCHEMA, "smtp.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "smtp.yaml::$.spec.port: '587' is not of type 'integer'" in result.stdout


def test_the_schema_files_are_valid_draft_2020_12(tmp_path: Path) -> None:
    schemas = sorted((REPO / "schemas").glob("*.schema.json"))
    result = check_jsonschema("--check-metaschema", *schemas, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
