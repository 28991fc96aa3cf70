"""``examples/defences.py``: the defences as a user configures them, driven with the test client."""

from __future__ import annotations

import typing as t

import pytest
from test_examples import credentials_sign_in, load


@pytest.fixture
def example() -> t.Any:
    return load("defences")


def client_of(example: t.Any) -> t.Any:
    return example.app.test_client()


def test_cross_site_post_refused_front_end_allowed(example: t.Any) -> None:
    client = client_of(example)
    credentials_sign_in(client, "ada", "ada-pw")
    refused = client.post("/api/notes", headers={"Origin": "https://evil.localhost"})
    assert refused.status_code == 403 and refused.get_json()["error"] == "CrossSiteRequest"
    allowed = client.post(
        "/api/notes", headers={"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"}
    )
    assert allowed.status_code == 200


def test_throttled_after_five_wrong_passwords(example: t.Any) -> None:
    client = client_of(example)
    statuses = [credentials_sign_in(client, "ada", "wrong").status_code for _ in range(6)]
    assert statuses == [302] * 5 + [429]


def test_sign_out_everywhere_and_admin_revocation(example: t.Any, frozen_clock: t.Any) -> None:
    phone, laptop, admin = client_of(example), client_of(example), client_of(example)
    credentials_sign_in(phone, "ada", "ada-pw")
    credentials_sign_in(laptop, "ada", "ada-pw")
    assert b"Sign out everywhere" in phone.get("/").data
    frozen_clock.now += 1
    csrf = phone.get("/api/auth/csrf").get_json()["csrfToken"]
    assert (
        phone.post(
            "/api/auth/signout", data={"csrfToken": csrf, "everywhere": "true", "json": "true"}
        ).status_code
        == 200
    )
    assert laptop.post("/api/notes").status_code in (307, 401)
    frozen_clock.now += 1
    credentials_sign_in(laptop, "ada", "ada-pw")
    credentials_sign_in(admin, "admin", "admin-pw")
    assert laptop.post("/admin/revoke/1").status_code == 403
    frozen_clock.now += 1
    assert admin.post("/admin/revoke/2").get_json() == {"revoked": "2"}
    assert laptop.post("/api/notes").status_code in (307, 401)
    assert admin.post("/api/notes").status_code == 200


def test_sessions_end_after_twelve_hours(example: t.Any, frozen_clock: t.Any) -> None:
    client = client_of(example)
    credentials_sign_in(client, "ada", "ada-pw")
    for _ in range(11):
        frozen_clock.now += 3600
        assert client.get("/api/auth/session").get_json()["user"]["name"] == "Ada Lovelace"
    frozen_clock.now += 3601
    assert client.get("/api/auth/session").get_json() == {}
