"""``examples/defences.py``: the defences as a user configures them, driven with the test client."""

from __future__ import annotations

import typing as t

import pytest
from support.examples import credentials_sign_in, load


@pytest.fixture
def example() -> t.Any:
    return load("defences")


def client_of(example: t.Any) -> t.Any:
    return example.app.test_client()


def test_cross_site_post_refused_front_end_allowed(example: t.Any) -> None:
    client = client_of(example)
    credentials_sign_in(client, "bob", "bob-user-pw")
    refused = client.post("/api/notes", headers={"Origin": "https://evil.localhost"})
    assert refused.status_code == 403 and refused.get_json()["error"] == "CrossSiteRequest"
    allowed = client.post(
        "/api/notes", headers={"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"}
    )
    assert allowed.status_code == 200


def test_the_session_read_outside_the_matcher_is_anonymous_cross_site(example: t.Any) -> None:
    client = client_of(example)
    credentials_sign_in(client, "bob", "bob-user-pw")
    assert client.post("/api/feedback").get_json() == {"from": "Bob"}
    forged = client.post("/api/feedback", headers={"Origin": "https://evil.localhost"})
    assert forged.status_code == 200 and forged.get_json() == {"from": None}


def test_links_only_on_trusted_hosts(example: t.Any) -> None:
    client = client_of(example)
    assert client.get("/api/auth/signin").status_code == 200
    spoofed = client.get("/api/auth/signin", headers={"Host": "evil.example"})
    assert spoofed.status_code == 400
    assert "evil.example" not in spoofed.get_data(as_text=True)
    assert client.post("/api/notes", headers={"Host": "evil.example"}).status_code == 400


def test_one_address_cannot_lock_the_owner_out(example: t.Any) -> None:
    attacker, owner = client_of(example), client_of(example)
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    owner.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert [credentials_sign_in(attacker, "bob", "wrong").status_code for _ in range(6)][-1] == 429
    signed_in = credentials_sign_in(owner, "bob", "bob-user-pw")
    assert signed_in.status_code == 302
    assert owner.get("/api/auth/session").get_json()["user"]["name"] == "Bob"


def test_throttled_after_five_wrong_passwords(example: t.Any) -> None:
    client = client_of(example)
    statuses = [credentials_sign_in(client, "bob", "wrong").status_code for _ in range(6)]
    assert statuses == [302] * 5 + [429]


def test_sign_out_everywhere_and_admin_revocation(example: t.Any, frozen_clock: t.Any) -> None:
    phone, laptop, admin = client_of(example), client_of(example), client_of(example)
    credentials_sign_in(phone, "bob", "bob-user-pw")
    credentials_sign_in(laptop, "bob", "bob-user-pw")
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
    credentials_sign_in(laptop, "bob", "bob-user-pw")
    credentials_sign_in(admin, "alice", "alice-admin-pw")
    assert laptop.post("/admin/revoke/1").status_code == 403
    frozen_clock.now += 1
    assert admin.post("/admin/revoke/2").get_json() == {"revoked": "2"}
    assert laptop.post("/api/notes").status_code in (307, 401)
    assert admin.post("/api/notes").status_code == 200


def test_sessions_end_after_twelve_hours(example: t.Any, frozen_clock: t.Any) -> None:
    client = client_of(example)
    credentials_sign_in(client, "bob", "bob-user-pw")
    for _ in range(11):
        frozen_clock.now += 3600
        assert client.get("/api/auth/session").get_json()["user"]["name"] == "Bob"
    frozen_clock.now += 3601
    assert client.get("/api/auth/session").get_json() == {}
