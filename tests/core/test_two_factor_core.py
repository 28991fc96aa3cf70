"""The second factor's building blocks (``flask_authguard.core.two_factor``): the option, TOTP
codes and their window, recovery codes, and the secret sealed at rest."""

from __future__ import annotations

import typing as t

import pyotp
import pytest
from conftest import FrozenClock

from flask_authguard import ConfigurationError
from flask_authguard.core.settings.config import resolve_options
from flask_authguard.core.two_factor import (
    ACCOUNT_LABEL_LENGTH,
    RECOVERY_CODE_COUNT,
    STEP_SECONDS,
    TwoFactorOptions,
    clean_code,
    current_step,
    matching_step,
    new_recovery_codes,
    new_secret,
    open_secret,
    provisioning_uri,
    qr_svg,
    recovery_hash,
    seal_secret,
    unused_recovery_code,
)

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def noop(**kwargs: t.Any) -> None:
    return None


class WithTable:
    def get_two_factor(self, user_id: str) -> None: ...
    def save_two_factor(self, user_id: str, record: t.Any, previous: t.Any) -> bool: ...


@pytest.mark.parametrize(
    ("value", "adapter", "expected"),
    [
        pytest.param(False, None, None, id="off"),
        pytest.param(True, WithTable(), TwoFactorOptions(), id="adapter-table"),
        pytest.param(
            {"load": noop, "save": noop}, None, TwoFactorOptions(load=noop, save=noop), id="callbacks"
        ),
        pytest.param(
            {"load": noop, "save": noop, "issuer": "Acme"},
            None,
            TwoFactorOptions(noop, noop, "Acme"),
            id="issuer",
        ),
    ],
)
def test_option_resolves(value: t.Any, adapter: t.Any, expected: t.Any) -> None:
    config = resolve_options(
        {"secret": "s", "two_factor": value, "adapter": adapter, "session": {"strategy": "jwt"}}
    )
    assert config.two_factor == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(True, "keeps each user's second factor in the adapter", id="nowhere-to-keep"),
        pytest.param({"load": noop}, "both load and save", id="half"),
        pytest.param({"load": 1, "save": noop}, "two_factor.load must be callable", id="not-callable"),
        pytest.param({"lode": noop}, "unknown key(s) in two_factor: lode", id="typo"),
        pytest.param("yes", "must be True, False or a dict", id="text"),
        pytest.param({"load": noop, "save": noop, "issuer": " "}, "issuer must be", id="issuer"),
    ],
)
def test_bad_option_fails_at_start_up(value: t.Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match="two_factor") as caught:
        resolve_options({"secret": "s", "two_factor": value})
    assert message in str(caught.value)


def test_codes_of_now_and_one_step_either_side(frozen_clock: FrozenClock) -> None:
    now = current_step()
    totp = pyotp.TOTP(SECRET)
    for offset in (-1, 0, 1):
        assert matching_step(SECRET, totp.at(frozen_clock.now + offset * STEP_SECONDS), None) == now + offset
    for offset in (-2, 2):
        assert matching_step(SECRET, totp.at(frozen_clock.now + offset * STEP_SECONDS), None) is None


def test_a_step_used_is_not_accepted_again(frozen_clock: FrozenClock) -> None:
    code = pyotp.TOTP(SECRET).at(frozen_clock.now)
    step = matching_step(SECRET, code, None)
    assert step is not None
    assert matching_step(SECRET, code, step) is None
    earlier = pyotp.TOTP(SECRET).at(frozen_clock.now - STEP_SECONDS)
    assert matching_step(SECRET, earlier, step) is None  # older than the last used: refused too


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5"])
def test_malformed_codes_match_nothing(code: str, frozen_clock: FrozenClock) -> None:
    assert matching_step(SECRET, clean_code(code), None) is None


@pytest.mark.parametrize(
    "digits",
    [
        pytest.param("\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669", id="arabic-indic"),
        pytest.param("\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19", id="fullwidth"),
        pytest.param("\u0966\u0967\u0968\u0969\u096a\u096b\u096c\u096d\u096e\u096f", id="devanagari"),
    ],
)
def test_only_ascii_digits_are_a_code(digits: str, frozen_clock: FrozenClock) -> None:
    """``str.isdigit()`` holds for other scripts' digits: the right code spelled in them is no code."""
    code = pyotp.TOTP(SECRET).at(frozen_clock.now)
    assert matching_step(SECRET, code.translate(str.maketrans("0123456789", digits)), None) is None
    assert matching_step(SECRET, code, None) == current_step()


def test_clean_code() -> None:
    assert clean_code(" 123 456 ") == "123456"
    assert clean_code("ABCDE-FGHIJ") == "abcdefghij"
    assert clean_code(None) == "" and clean_code("x" * 65) == ""


def test_recovery_codes_are_random_and_checked_by_hash() -> None:
    codes = new_recovery_codes()
    assert len(codes) == RECOVERY_CODE_COUNT == len(set(codes))
    assert all(len(c) == 11 and c[5] == "-" for c in codes)
    hashes = [recovery_hash(c) for c in codes]
    assert unused_recovery_code(clean_code(codes[3].upper()), hashes) == hashes[3]
    assert unused_recovery_code(clean_code("aaaaa-aaaaa"), hashes) is None
    for other in ("abcde\ud800ghij", "\u00e9" * 10):  # a lone surrogate (from JSON), non-ASCII
        assert unused_recovery_code(other, hashes) is None
    assert new_recovery_codes() != codes


def test_secret_sealed_opens_only_for_its_user_and_with_a_configured_secret() -> None:
    secret = new_secret()
    assert len(secret) == 32
    sealed = seal_secret(secret, user_id="1", secrets=["app-secret"])
    assert secret not in sealed and sealed.startswith("v1.")
    assert open_secret(sealed, user_id="1", secrets=["app-secret"]) == secret
    assert open_secret(sealed, user_id="2", secrets=["app-secret"]) is None  # moved to another user
    assert open_secret(sealed, user_id="1", secrets=["other"]) is None
    # rotation: a newer secret first, the old one still opens what it sealed
    assert open_secret(sealed, user_id="1", secrets=["newer", "app-secret"]) == secret
    for garbage in (None, "", "v1.", "v1.!!!", "v2.abc", sealed[:-4]):
        assert open_secret(garbage, user_id="1", secrets=["app-secret"]) is None


def test_provisioning_uri_and_qr() -> None:
    uri = provisioning_uri(SECRET, account="ada@example.com", issuer="Acme")
    assert uri == f"otpauth://totp/Acme:ada%40example.com?secret={SECRET}&issuer=Acme"
    svg = qr_svg(uri)
    assert svg is not None and svg.startswith("<svg") and "QR code of the secret" in svg


@pytest.mark.parametrize(
    "account, label",
    [
        pytest.param("a" * ACCOUNT_LABEL_LENGTH, "a" * ACCOUNT_LABEL_LENGTH, id="at-the-limit"),
        pytest.param("a" * 3000, "a" * (ACCOUNT_LABEL_LENGTH - 1) + "%E2%80%A6", id="cut"),
        pytest.param("Ad\ud800a", "Ad%3Fa", id="lone-surrogate"),
    ],
)
def test_provisioning_uri_label(account: str, label: str) -> None:
    uri = provisioning_uri(SECRET, account=account, issuer="Acme")
    assert uri == f"otpauth://totp/Acme:{label}?secret={SECRET}&issuer=Acme"
    assert qr_svg(uri) is not None


def test_no_qr_code_for_a_uri_too_long() -> None:
    assert qr_svg(provisioning_uri(SECRET, account="ada@example.com", issuer="I" * 3000)) is None
