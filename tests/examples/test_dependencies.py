"""The dependency floors in ``setup.cfg`` stay past the security advisories published against
older releases (issue 28), in every section that names the package: a merge or an extra that
lags behind (the test extra repeats the oauth one) fails here, with the advisories it reopens."""

from __future__ import annotations

import configparser

import pytest
from packaging.requirements import Requirement
from packaging.version import Version
from support import ROOT

SETUP_CFG = ROOT / "setup.cfg"

#: package -> (the lowest release clear of every advisory we checked, the latest advisories it clears)
CLEARED = {
    "flask": ("3.1.3", "GHSA-68rp-wp8r-4726, GHSA-4grg-w6v8-c28g, GHSA-m2qf-hxjv-5gpq"),
    "werkzeug": ("3.1.9", "GHSA-g6x2-hccm-hh4m, GHSA-29vq-49wr-vm6x, GHSA-87hc-h4r5-73f7, ..."),
    "pyjwt": ("2.15", "GHSA-r6x4-923q-g947, GHSA-hxm8-2xgr-2p9m, GHSA-752w-5fwx-jx9f, ..."),
    "cryptography": ("48.0.1", "GHSA-537c-gmf6-5ccf, GHSA-m959-cc7f-wv43, GHSA-r6ph-v2qm-q3c2, ..."),
    "authlib": ("1.9.10", "GHSA-r95x-qfjj-fjj2, GHSA-jj8c-mmj3-mmgv, GHSA-7wc2-qxgw-g8gg, ..."),
    "requests": ("2.33", "CVE-2026-25645, GHSA-9hjg-9r4m-mvj7, GHSA-9wx4-h78v-vm56, ..."),
    "starlette": ("1.3.1", "GHSA-82w8-qh3p-5jfq, GHSA-7f5h-v6xp-fcq8, GHSA-f96h-pmfr-66vw, ..."),
}
#: joserfc 1.8 needs Python 3.11; on 3.10 the last release that installs is the floor.
JOSERFC = {"3.10": "1.7.7", "3.11": "1.8"}


def declared() -> list[tuple[str, Requirement]]:
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG, encoding="utf-8")
    sections = {"install_requires": parser["options"]["install_requires"], **parser["options.extras_require"]}
    return [
        (section, Requirement(line))
        for section, text in sections.items()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def floor(requirement: Requirement) -> Version:
    floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert floors, f"{requirement} has no lower bound"
    return max(floors)


@pytest.mark.parametrize("package", sorted(CLEARED))
def test_floors_clear_the_advisories(package: str) -> None:
    cleared, advisories = CLEARED[package]
    found = [(section, r) for section, r in declared() if r.name.lower() == package]
    assert found, f"{package} is no longer declared: update CLEARED"
    for section, requirement in found:
        assert floor(requirement) >= Version(cleared), (
            f"{section}: {requirement} allows releases with advisories ({advisories}); need >={cleared}"
        )


def test_joserfc_floor_on_each_python() -> None:
    found = [(section, r) for section, r in declared() if r.name.lower() == "joserfc"]
    assert {section for section, _ in found} == {"oauth", "demo", "test"}
    for python, cleared in JOSERFC.items():
        for section in ("oauth", "demo", "test"):
            applies = [
                r
                for s, r in found
                if s == section and (r.marker is None or r.marker.evaluate({"python_version": python}))
            ]
            assert len(applies) == 1 and floor(applies[0]) >= Version(cleared), (section, python, applies)
