"""Loading and driving the runnable examples (tests/examples/)."""

from __future__ import annotations

import importlib.util
import types
import typing as t

from support import ROOT

EXAMPLES = ROOT / "examples"


def load(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"authguard_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def credentials_sign_in(client: t.Any, username: str, password: str, callback: str = "/") -> t.Any:
    """Sign in as a browser does: the CSRF token, then the credentials callback."""
    csrf = client.get("/api/auth/csrf").json["csrfToken"]
    form = {"username": username, "password": password, "csrfToken": csrf, "callbackUrl": callback}
    return client.post("/api/auth/callback/credentials", data=form)
