"""Whether Vault answers: its unauthenticated health endpoint, for a runner's /readyz."""

from __future__ import annotations

from dataclasses import replace

from reconciler.errors import SmtpcfgError
from reconciler.vault.client import VaultSettings, new_client


def check_vault(settings: VaultSettings, timeout: float) -> None:
    """Return when Vault answers `sys/health` as initialized, unsealed and active (or a
    standby); raise SmtpcfgError saying why not. Needs no token, so none is sent."""
    client = new_client(replace(settings, timeout=min(timeout, settings.timeout)))
    try:
        client.sys.read_health_status(method="GET", standby_ok=True)
    except Exception as error:  # hvac's VaultError for 5xx, requests' for the connection
        raise SmtpcfgError(
            f"Vault at {settings.addr} does not answer as ready: {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'no detail'}"
        ) from None
    finally:
        client.adapter.close()
