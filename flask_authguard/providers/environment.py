"""Provider credentials from the environment, next-auth v4's names first, then Auth.js v5's.

.. code-block:: python

    client_id, client_secret = client_from_env("github")  # GITHUB_ID, else AUTH_GITHUB_ID ...
"""

from __future__ import annotations

import os

__all__ = ["client_from_env", "env_stem"]


def env_stem(provider_id: str) -> str:
    """``provider_id`` as environment variables spell it: upper case, ``-`` as ``_``."""
    return provider_id.upper().replace("-", "_")


def client_from_env(provider_id: str) -> tuple[str | None, str | None]:
    """The client id and secret the environment gives for ``provider_id`` (``ID``: the id in
    upper case, ``-`` as ``_``): next-auth v4's convention ``<ID>_ID`` / ``<ID>_SECRET`` first,
    then Auth.js v5's ``AUTH_<ID>_ID`` / ``AUTH_<ID>_SECRET``; ``None`` where neither is set."""
    stem = env_stem(provider_id)

    def first(suffix: str) -> str | None:
        names = (f"{stem}_{suffix}", f"AUTH_{stem}_{suffix}")
        return next((os.environ[name] for name in names if os.environ.get(name)), None)

    return first("ID"), first("SECRET")
