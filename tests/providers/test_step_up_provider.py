"""What a step-up sign-in asks and checks (``flask_authguard/providers/step_up.py``); the round
trips through the real provider are in ``tests/guard/test_step_up.py`` and ``test_oauth.py``."""

from __future__ import annotations

import typing as t

import pytest

from flask_authguard.core.defences.revocation import UNKNOWN_AUTH_TIME
from flask_authguard.providers.step_up import authenticated_at, check_auth_time

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("auth_time", "kept"),
    [
        pytest.param(NOW - 86400, NOW - 86400, id="a-day-old"),
        pytest.param(int(NOW) - 5, NOW - 5, id="integer"),
        pytest.param(NOW + 3600, NOW, id="future-capped-at-now"),
        pytest.param(None, UNKNOWN_AUTH_TIME, id="missing"),
        pytest.param("1700000000", UNKNOWN_AUTH_TIME, id="string"),
        pytest.param(True, UNKNOWN_AUTH_TIME, id="bool"),
        pytest.param(float("nan"), UNKNOWN_AUTH_TIME, id="nan"),
        pytest.param(float("inf"), UNKNOWN_AUTH_TIME, id="infinity"),
        pytest.param(-5, UNKNOWN_AUTH_TIME, id="negative"),
        pytest.param(10**30, UNKNOWN_AUTH_TIME, id="huge"),
    ],
)
def test_authenticated_at_is_the_id_tokens_auth_time_at_most_now(auth_time: t.Any, kept: float) -> None:
    """The session keeps when the provider authenticated the user; an ID token that does not say
    (or says nonsense) vouches for no recent sign-in: the epoch, older than any ``max_age``."""
    claims = {} if auth_time is None else {"auth_time": auth_time}
    assert authenticated_at(claims, NOW) == kept


@pytest.mark.parametrize("auth_time", [float("nan"), float("inf"), "now", None])
def test_a_step_up_refuses_an_auth_time_that_is_no_moment(auth_time: t.Any) -> None:
    """NaN and Infinity compared as recent (``now - nan > max_age`` is false): refused now."""
    with pytest.raises(ValueError, match="no auth_time"):
        check_auth_time({"auth_time": auth_time}, "300", NOW, 60)
    check_auth_time({"auth_time": NOW - 10}, "300", NOW, 60)  # a recent one passes
    check_auth_time({"auth_time": auth_time}, None, NOW, 60)  # nothing asked: nothing checked
