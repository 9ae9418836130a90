"""Resolving references against a real OpenBao: KV v1 and v2, mounts, versions, reads."""

from __future__ import annotations

from reconciler.model import VaultReference
from reconciler.vault.resolver import ResolvedSecret, VaultLookupError, VaultResolver
from tests.support.openbao import OpenBao


def test_kv2_reads_the_current_version(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "old-pw"})
    openbao.write(path, {"password": "new-pw"})
    reference = VaultReference(f"secret/{path}", "password")

    resolved = VaultResolver(openbao.settings()).resolve(reference)

    assert resolved.reference == reference
    assert resolved.version == 2
    assert resolved.value.reveal() == "new-pw"


def test_kv2_pinned_version_reads_exactly_that_version(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "first-pw"})
    openbao.write(path, {"password": "second-pw"})

    resolved = VaultResolver(openbao.settings()).resolve(
        VaultReference(f"secret/{path}", "password", version=1)
    )

    assert (resolved.version, resolved.value.reveal()) == (1, "first-pw")


def test_kv1_has_no_version(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "v1-pw"}, mount="kv1")

    resolved = VaultResolver(openbao.settings()).resolve(VaultReference(f"kv1/{path}", "password"))

    assert (resolved.version, resolved.value.reveal()) == (None, "v1-pw")


def test_nested_mount_is_detected(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "team-pw"}, mount="kv/team-a")

    resolved = VaultResolver(openbao.settings()).resolve(
        VaultReference(f"kv/team-a/{path}", "password")
    )

    assert (resolved.version, resolved.value.reveal()) == (1, "team-pw")
    assert openbao.count_reads(f"kv/team-a/data/{path}") == 1


def test_named_mount_is_used(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "named-pw"}, mount="kv/team-a")

    resolved = VaultResolver(openbao.settings()).resolve(
        VaultReference(f"kv/team-a/{path}", "password", mount="kv/team-a")
    )

    assert resolved.value.reveal() == "named-pw"
    assert openbao.count_reads("sys/internal/ui/mounts/kv/team-a") >= 1
    assert openbao.count_reads(f"sys/internal/ui/mounts/kv/team-a/{path}") == 0


def test_resolve_all_reads_each_secret_once(openbao: OpenBao) -> None:
    first, second, old, team = (openbao.fresh_path() for _ in range(4))
    openbao.write(first, {"password": "pw-1a", "username": "user-1"})
    openbao.write(first, {"password": "pw-1b", "username": "user-1"})
    openbao.write(second, {"password": "pw-2"})
    openbao.write(old, {"password": "pw-3"}, mount="kv1")
    openbao.write(team, {"password": "pw-4"}, mount="kv/team-a")
    references = [
        VaultReference(f"secret/{first}", "password"),
        VaultReference(f"secret/{first}", "username"),
        VaultReference(f"secret/{first}", "password"),  # the same reference again
        VaultReference(f"secret/{first}", "password", version=1),
        VaultReference(f"secret/{second}", "password"),
        VaultReference(f"kv1/{old}", "password"),
        VaultReference(f"kv/team-a/{team}", "password"),
    ]
    mount_look_ups = openbao.count_reads("sys/internal/ui/mounts/")
    resolver = VaultResolver(openbao.settings())

    results = resolver.resolve_all(references, concurrency=4)

    assert list(results) == list(dict.fromkeys(references))
    values = {
        (ref.path, ref.key, ref.version): result.value.reveal()
        for ref, result in results.items()
        if isinstance(result, ResolvedSecret)
    }
    assert values == {
        (f"secret/{first}", "password", None): "pw-1b",
        (f"secret/{first}", "username", None): "user-1",
        (f"secret/{first}", "password", 1): "pw-1a",
        (f"secret/{second}", "password", None): "pw-2",
        (f"kv1/{old}", "password", None): "pw-3",
        (f"kv/team-a/{team}", "password", None): "pw-4",
    }
    assert openbao.count_reads(f"secret/data/{first}") == 2  # current, and version 1
    assert openbao.count_reads(f"secret/data/{second}") == 1
    assert openbao.count_reads(f"kv1/{old}") == 1
    assert openbao.count_reads(f"kv/team-a/data/{team}") == 1
    # One look-up per mount (secret/, kv1/, kv/team-a/), and none once they are known.
    assert openbao.count_reads("sys/internal/ui/mounts/") - mount_look_ups == 3
    resolver.resolve_all(references)
    assert openbao.count_reads("sys/internal/ui/mounts/") - mount_look_ups == 3


def test_one_failure_does_not_stop_the_others(openbao: OpenBao) -> None:
    present, missing = openbao.fresh_path(), openbao.fresh_path()
    openbao.write(present, {"password": "still-here"})
    good = VaultReference(f"secret/{present}", "password")
    bad = VaultReference(f"secret/{missing}", "password")

    results = VaultResolver(openbao.settings()).resolve_all([bad, good])

    assert isinstance(results[bad], VaultLookupError)
    assert isinstance(results[good], ResolvedSecret)
    assert results[good].value.reveal() == "still-here"
