"""Bad manifests: every problem reported at once, one line each, exit 1, store untouched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.cli import Cli
from tests.support.stores import is_empty, snapshot

VALID_SETTINGS = """\
apiVersion: smtpcfg/v1
kind: SmtpSettings
metadata:
  name: primary
spec:
  host: smtp.example.com
  port: 587
  from:
    address: billing@example.com
"""

# (case id, manifest text, expected error line: a regex matching the whole line)
BAD_INPUTS = [
    ("yaml-syntax", "apiVersion: smtpcfg/v1\nkind: [User\n", r"m\.yaml:3:1: YAML syntax error: .+"),
    (
        "unknown-kind",
        "apiVersion: smtpcfg/v1\nkind: Mailbox\nmetadata: {name: a}\nspec: {}\n",
        r"m\.yaml:2:1: Mailbox/a: kind: unknown kind 'Mailbox'; expected one of .+",
    ),
    (
        "unknown-api-version",
        VALID_SETTINGS.replace("smtpcfg/v1", "smtpcfg/v9"),
        r"m\.yaml:1:1: SmtpSettings/primary: apiVersion: unknown apiVersion 'smtpcfg/v9'.+",
    ),
    (
        "unknown-field",
        VALID_SETTINGS + "  colour: blue\n",
        r"m\.yaml:10:3: SmtpSettings/primary: spec\.colour: unknown field \(allowed: .+\)",
    ),
    (
        "missing-required",
        VALID_SETTINGS.replace("  port: 587\n", ""),
        r"m\.yaml:5:1: SmtpSettings/primary: spec\.port: required field is missing",
    ),
    (
        "wrong-type",
        VALID_SETTINGS.replace("port: 587", "port: '587'"),
        r"m\.yaml:7:3: SmtpSettings/primary: spec\.port: expected an integer, got a string",
    ),
    (
        "yaml-date-for-a-string",
        VALID_SETTINGS.replace("smtp.example.com", "2026-12-02"),
        r"m\.yaml:6:3: SmtpSettings/primary: spec\.host: expected a string, got date",
    ),
    (
        "port-out-of-range",
        VALID_SETTINGS.replace("port: 587", "port: 70000"),
        r"m\.yaml:7:3: SmtpSettings/primary: spec\.port: port 70000 is out of range 1-65535",
    ),
    (
        "port-zero",
        VALID_SETTINGS.replace("port: 587", "port: 0"),
        r"m\.yaml:7:3: SmtpSettings/primary: spec\.port: port 0 is out of range 1-65535",
    ),
    (
        "invalid-host",
        VALID_SETTINGS.replace("smtp.example.com", "smtp_example .com"),
        r"m\.yaml:6:3: SmtpSettings/primary: spec\.host: 'smtp_example \.com' is not a valid"
        r" host.+",
    ),
    (
        "invalid-email",
        VALID_SETTINGS.replace("billing@example.com", "billing.example.com"),
        r"m\.yaml:9:5: SmtpSettings/primary: spec\.from\.address: 'billing\.example\.com' is not a "
        r"valid email address",
    ),
    (
        "unparseable-size",
        VALID_SETTINGS + "  maxAttachmentSize: 10 parsecs\n",
        r"m\.yaml:10:3: SmtpSettings/primary: spec\.maxAttachmentSize: cannot read '10 parsecs' "
        r"as a size.+",
    ),
    (
        "username-without-password",
        VALID_SETTINGS + "  username: mailer\n",
        r"m\.yaml:10:3: SmtpSettings/primary: spec\.username: 'username' is set but neither "
        r"'password' nor 'oauth2' is; a login needs one of them",
    ),
    (
        "password-without-username",
        VALID_SETTINGS + "  password: {vault: {path: secret/smtp, key: password}}\n",
        r"m\.yaml:10:3: SmtpSettings/primary: spec\.password: 'password' is set but 'username' "
        r"is not; set both or neither",
    ),
    (
        "read-only-field",
        VALID_SETTINGS.replace("  name: primary\n", "  name: primary\n  generation: 4\n"),
        r"m\.yaml:5:3: SmtpSettings/primary: metadata\.generation: read-only field set by the "
        r"store; remove it from the manifest",
    ),
    (
        "invalid-name",
        VALID_SETTINGS.replace("name: primary", "name: Primary_1"),
        r"m\.yaml:4:3: SmtpSettings/Primary_1: metadata\.name: 'Primary_1' is not a valid name.+",
    ),
    (
        "duplicate",
        VALID_SETTINGS + "---\n" + VALID_SETTINGS,
        r"m\.yaml:11:1: SmtpSettings/primary: duplicate: also declared at .*m\.yaml:1:1",
    ),
    (
        "undeclared-notify-user",
        VALID_SETTINGS + "  notifyUser: ghost\n",
        r"m\.yaml:10:3: SmtpSettings/primary: spec\.notifyUser: refers to User/ghost, which is "
        r"not declared",
    ),
    (
        "undeclared-smtp-settings",
        "apiVersion: smtpcfg/v1\nkind: EmailTemplate\nmetadata: {name: invoice}\n"
        "spec: {smtpSettings: nowhere}\n",
        r"m\.yaml:4:8: EmailTemplate/invoice: spec\.smtpSettings: refers to SmtpSettings/nowhere, "
        r"which is not declared",
    ),
    (
        "yaml-alias",
        "apiVersion: smtpcfg/v1\nkind: User\nmetadata: {name: &n a}\n"
        "spec: {email: a@example.com, displayName: *n}\n",
        r"m\.yaml:3:\d+: YAML anchors and aliases are not allowed",
    ),
    (
        "yaml-merge-key",
        "apiVersion: smtpcfg/v1\nkind: User\nmetadata: {name: a}\n"
        "spec:\n  <<: {email: a@example.com}\n",
        r"m\.yaml:5:3: YAML merge keys \(<<\) are not allowed",
    ),
    (
        "duplicate-key",
        VALID_SETTINGS.replace("  port: 587\n", "  port: 587\n  port: 25\n"),
        r"m\.yaml:8:3: duplicate key 'port' \(first set at line 7\)",
    ),
    (
        "not-a-mapping",
        "- just\n- a list\n",
        r"m\.yaml:1:1: a manifest document must be a mapping.+",
    ),
]
# Line breaks in header values, each field that ends up in a mail header.
HEADER_FIELDS = [
    (
        "crlf-from-name",
        VALID_SETTINGS.replace(
            "    address:", '    name: "Bill\\r\\nBcc: x@evil.test"\n    address:'
        ),
        r"m\.yaml:9:5: SmtpSettings/primary: spec\.from\.name: contains the line break "
        r"U\+000D \(CARRIAGE RETURN\) at character 5: a mail header must be one line",
    ),
    (
        "lf-subject",
        "apiVersion: smtpcfg/v1\nkind: EmailTemplate\nmetadata: {name: t}\n"
        'spec: {smtpSettings: primary, subject: "Hi\\nBcc: x@evil.test"}\n---\n' + VALID_SETTINGS,
        r"m\.yaml:4:31: EmailTemplate/t: spec\.subject: contains the line break "
        r"U\+000A \(LINE FEED\) at character 3: a mail header must be one line",
    ),
    (
        "vt-settings-from-name",
        VALID_SETTINGS.replace("    address:", '    name: "Bill\\vBcc"\n    address:'),
        r"m\.yaml:9:5: SmtpSettings/primary: spec\.from\.name: contains the line break "
        r"U\+000B \(LINE TABULATION\) at character 5: a mail header must be one line",
    ),
    (
        "nel-template-from-name",
        "apiVersion: smtpcfg/v1\nkind: EmailTemplate\nmetadata: {name: t}\n"
        'spec: {smtpSettings: primary, from: {name: "A\\NB"}}\n---\n' + VALID_SETTINGS,
        r"m\.yaml:4:38: EmailTemplate/t: spec\.from\.name: contains the line break "
        r"U\+0085 \(NEXT LINE\) at character 2: a mail header must be one line",
    ),
    (
        "ls-display-name",
        "apiVersion: smtpcfg/v1\nkind: User\nmetadata: {name: u}\n"
        'spec: {email: u@example.com, displayName: "A\\LB"}\n',
        r"m\.yaml:4:30: User/u: spec\.displayName: contains the line "
        r"break U\+2028 \(LINE SEPARATOR\) at character 2: a mail header must be one line",
    ),
    (
        "lf-email",
        "apiVersion: smtpcfg/v1\nkind: User\nmetadata: {name: u}\n"
        'spec: {email: "u@example.com\\nBcc: x@evil.test"}\n',
        r"m\.yaml:4:8: User/u: spec\.email: contains the line break U\+000A.+",
    ),
]
OAUTH2_SETTINGS = (
    VALID_SETTINGS
    + """\
  username: billing@example.com
  oauth2:
    provider: microsoft
    tenantId: contoso.onmicrosoft.com
    clientId: 3f2c6a1e
    clientSecret: {vault: {path: secret/smtp/m365, key: clientSecret}}
"""
)
# Each: (case id, manifest text, expected error line). Line 10 is `username`, 11 `oauth2`,
# 12 `provider`, 13 `tenantId`, 14 `clientId`, 15 `clientSecret`.
OAUTH2_INPUTS = [
    (
        "password-and-oauth2",
        OAUTH2_SETTINGS + "  password: {vault: {path: secret/smtp, key: password}}\n",
        r"m\.yaml:11:3: SmtpSettings/primary: spec\.oauth2: set exactly one of 'password' and "
        r"'oauth2', not both",
    ),
    (
        "oauth2-without-username",
        OAUTH2_SETTINGS.replace("  username: billing@example.com\n", ""),
        r"m\.yaml:10:3: SmtpSettings/primary: spec\.oauth2: 'oauth2' is set but 'username' is "
        r"not; set both or neither",
    ),
    (
        "plaintext-token-url",
        OAUTH2_SETTINGS + "    tokenUrl: http://login.example.com/token\n",
        r"m\.yaml:16:5: SmtpSettings/primary: spec\.oauth2\.tokenUrl: "
        r"'http://login\.example\.com/token' is not an https:// URL \(with a host, and no user "
        r"or fragment\): the token endpoint is given a secret, so it is reached over HTTPS only",
    ),
    (
        "microsoft-without-tenant",
        OAUTH2_SETTINGS.replace("    tenantId: contoso.onmicrosoft.com\n", ""),
        r"m\.yaml:11:3: SmtpSettings/primary: spec\.oauth2\.tenantId: required field is missing",
    ),
    (
        "tenant-with-a-slash",
        OAUTH2_SETTINGS.replace("contoso.onmicrosoft.com", "contoso/../x"),
        r"m\.yaml:13:5: SmtpSettings/primary: spec\.oauth2\.tenantId: 'contoso/\.\./x' is not "
        r"a tenant: give the directory \(tenant\) id, a GUID, or a domain such as "
        r"contoso\.onmicrosoft\.com",
    ),
    (
        "google-with-a-client-secret",
        OAUTH2_SETTINGS.replace("provider: microsoft", "provider: google").replace(
            "    tenantId: contoso.onmicrosoft.com\n", ""
        )
        + "    serviceAccountKey: {vault: {path: secret/smtp/google, key: key.json}}\n",
        r"m\.yaml:14:5: SmtpSettings/primary: spec\.oauth2\.clientSecret: not used with "
        r"provider google: the service account key signs the token request and names the "
        r"client; remove it",
    ),
    (
        "google-without-a-key",
        OAUTH2_SETTINGS.replace("provider: microsoft", "provider: google")
        .replace("    tenantId: contoso.onmicrosoft.com\n", "")
        .replace("    clientId: 3f2c6a1e\n", "")
        .replace("    clientSecret: {vault: {path: secret/smtp/m365, key: clientSecret}}\n", ""),
        r"m\.yaml:11:3: SmtpSettings/primary: spec\.oauth2\.serviceAccountKey: required field "
        r"is missing",
    ),
    (
        "generic-without-scope",
        OAUTH2_SETTINGS.replace("    provider: microsoft\n", "").replace(
            "    tenantId: contoso.onmicrosoft.com\n", ""
        )
        + "    tokenUrl: https://login.example.com/token\n",
        r"m\.yaml:11:3: SmtpSettings/primary: spec\.oauth2\.scope: required field is missing",
    ),
    (
        "tenant-without-provider",
        OAUTH2_SETTINGS.replace("    provider: microsoft\n", "")
        + "    tokenUrl: https://login.example.com/token\n    scope: mail\n",
        r"m\.yaml:12:5: SmtpSettings/primary: spec\.oauth2\.tenantId: tenantId needs "
        r"provider: microsoft; without a provider, give tokenUrl; remove it",
    ),
    (
        "a-client-secret-written-in-clear",
        OAUTH2_SETTINGS.replace("{vault: {path: secret/smtp/m365, key: clientSecret}}", "hunter2"),
        r"m\.yaml:15:5: SmtpSettings/primary: spec\.oauth2\.clientSecret: a secret is never "
        r"written in a manifest: reference it in Vault as clientSecret: "
        r"\{vault: \{path: secret/smtp/NAME, key: clientSecret\}\}",
    ),
]
CASES = BAD_INPUTS + HEADER_FIELDS + OAUTH2_INPUTS


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_one_line_error_and_changes_nothing(
    cli: Cli, tmp_path: Path, store_url: str, text: str, expected: str
) -> None:
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        result = cli(*command, "-f", "m.yaml")
        assert result.code == 1, result.output
        lines = result.stderr.splitlines()
        assert any(re.fullmatch(expected, line) for line in lines), lines
        assert lines[-1].startswith("Error: "), lines
        assert "Traceback" not in result.output
    assert is_empty(store_url)


REPO = Path(__file__).resolve().parents[2]


def test_the_oauth2_examples_are_valid(cli: Cli) -> None:
    result = cli("validate", "-f", REPO / "examples" / "oauth2.yaml")

    assert (result.code, result.stderr) == (0, ""), result.output


def test_the_readme_oauth2_manifests_are_valid(cli: Cli, tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## OAuth2 logins")[1].split("\n## ")[0]
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", section, re.S) if "kind:" in b]
    (tmp_path / "readme.yaml").write_text("---\n".join(blocks), encoding="utf-8")

    result = cli("validate", "-f", "readme.yaml")

    assert len(blocks) == 2
    assert (result.code, result.stdout.strip()) == (0, "2 resources valid."), result.output


def test_every_problem_is_reported_not_just_the_first(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        VALID_SETTINGS.replace("port: 587", "port: 0") + "  colour: blue\n", encoding="utf-8"
    )
    (tmp_path / "b.yaml").write_text("apiVersion: smtpcfg/v1\nkind: [\n", encoding="utf-8")
    result = cli("validate", "-f", "a.yaml", "-f", "b.yaml")
    assert result.code == 1
    problems = [line for line in result.stderr.splitlines() if not line.startswith("Error:")]
    assert [line.split(":")[0:2] for line in problems] == [
        ["a.yaml", "7"],
        ["a.yaml", "10"],
        ["b.yaml", "3"],
    ]
    assert result.stderr.splitlines()[-1] == "Error: 3 problems in the manifests"


def test_a_valid_store_is_left_untouched_by_bad_input(
    cli: Cli, tmp_path: Path, store_url: str
) -> None:
    (tmp_path / "m.yaml").write_text(VALID_SETTINGS, encoding="utf-8")
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    before = snapshot(store_url)
    (tmp_path / "m.yaml").write_text(VALID_SETTINGS.replace("587", "99999"), encoding="utf-8")
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 1
    assert snapshot(store_url) == before


def test_sizes_in_every_unit_normalize_to_bytes(cli: Cli, tmp_path: Path) -> None:
    sizes = {
        "1048576": 1048576,
        "10MiB": 10485760,
        "25 MB": 25000000,
        "512 kb": 512000,
        "2GiB": 2147483648,
        "100B": 100,
    }
    documents = [
        VALID_SETTINGS.replace("primary", f"s{i}") + f"  maxAttachmentSize: {size}\n"
        for i, size in enumerate(sizes)
    ]
    (tmp_path / "m.yaml").write_text("---\n".join(documents), encoding="utf-8")
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    import json

    items = json.loads(cli("get", "smtpsettings", "-o", "json").stdout)["items"]
    assert {item["metadata"]["name"]: item["spec"]["maxAttachmentSize"] for item in items} == {
        f"s{i}": expected for i, expected in enumerate(sizes.values())
    }


def test_folders_are_read_recursively_and_stdin_works(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "manifests" / "deep").mkdir(parents=True)
    (tmp_path / "manifests" / "deep" / "s.yml").write_text(VALID_SETTINGS, encoding="utf-8")
    (tmp_path / "manifests" / "ignored.txt").write_text("not yaml: [", encoding="utf-8")
    user = "apiVersion: smtpcfg/v1\nkind: User\nmetadata: {name: ops}\nspec: {email: o@x.io}\n"
    result = cli("validate", "-f", "manifests", "-f", "-", input=user)
    assert result.code == 0, result.output
    assert result.stdout.strip() == "2 resources valid."


def test_missing_path_and_empty_folder_are_errors(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = cli("validate", "-f", "nope.yaml", "-f", "empty")
    assert result.code == 1
    assert "nope.yaml:1:1: no such file or folder" in result.stderr
    assert "empty:1:1: folder holds no *.yaml or *.yml files" in result.stderr


def test_example_manifest_is_valid_and_names_its_schema(cli: Cli) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "smtp.yaml"
    first_line = example.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../schemas/manifest.schema.json"
    result = cli("validate", "-f", example)
    assert result.code == 0, result.output
    assert result.stdout.strip() == "5 resources valid."


def test_a_reference_to_an_invalid_document_is_not_a_second_problem(
    cli: Cli, tmp_path: Path
) -> None:
    template = (
        "apiVersion: smtpcfg/v1\nkind: EmailTemplate\nmetadata: {name: invoice}\n"
        "spec: {smtpSettings: primary}\n"
    )
    (tmp_path / "m.yaml").write_text(
        VALID_SETTINGS.replace("port: 587", "prot: 587") + "---\n" + template, encoding="utf-8"
    )
    result = cli("validate", "-f", "m.yaml")
    assert result.code == 1
    assert "refers to" not in result.stderr
    assert result.stderr.splitlines()[-1] == "Error: 2 problems in the manifests"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "  password: hunter2\n",
            "a password is never written in a manifest: reference it in "
            "Vault as password: {vault: {path: secret/smtp/NAME, key: password}}",
        ),
        (
            "  description: no\n",
            "expected a string, got a boolean: YAML reads yes/no/on/off/true/"
            "false as booleans; quote the value",
        ),
    ],
)
def test_common_slips_get_a_hint(cli: Cli, tmp_path: Path, line: str, expected: str) -> None:
    text = VALID_SETTINGS + ("  username: mailer\n" if "password" in line else "") + line
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    result = cli("validate", "-f", "m.yaml")
    assert result.code == 1
    assert expected in result.stderr
    assert "hunter2" not in result.stderr


def test_applying_a_manifest_as_a_plan_file_hints_at_f(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(VALID_SETTINGS, encoding="utf-8")
    result = cli("apply", "m.yaml")
    assert result.code == 1
    assert "not a saved plan" in result.stderr and "pass them with -f" in result.stderr


@pytest.mark.parametrize(
    "text",
    [
        "---\n" + VALID_SETTINGS + "---\n",  # a trailing ---
        VALID_SETTINGS + "---\n---\n# nothing here\n---\n",  # doubled, and comments only
        "---\n---\n" + VALID_SETTINGS,  # before the first document
    ],
)
def test_empty_documents_are_skipped(cli: Cli, tmp_path: Path, text: str) -> None:
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    assert cli("validate", "-f", "m.yaml").stdout == "1 resource valid.\n"
    planned = cli("plan", "-f", "m.yaml")
    assert planned.code == 0 and "Plan: 1 to create" in planned.stdout
    # Positions still point at the right document.
    (tmp_path / "m.yaml").write_text(text.replace("port: 587", "port: 0"), encoding="utf-8")
    line = text.splitlines().index("  port: 587") + 1
    assert (
        f"m.yaml:{line}:3: SmtpSettings/primary: spec.port"
        in cli("validate", "-f", "m.yaml").stderr
    )


def test_a_file_of_only_empty_documents_holds_no_resources(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("---\n# nothing yet\n---\n", encoding="utf-8")
    result = cli("validate", "-f", "m.yaml")
    assert (result.code, result.stdout) == (0, "0 resources valid.\n")
    null = cli("validate", "-f", "-", input="--- null\n")
    assert null.code == 1 and "a manifest document must be a mapping" in null.stderr
