"""Table-driven structure tests: the manifests of every case in tests/data/translate/*.yaml in, the Envoy
route, cluster and listener pieces that matter out (exact dicts)."""

from __future__ import annotations

from typing import Any

import pytest

from meshrelease.backends.local.translate.translator import TranslateOptions, translate
from tests.translate_builders import Case, load_cases, missing, resolve

CASES = load_cases()


def _options(case: Case) -> TranslateOptions:
    raw = dict(case.options)
    if "gateway_service_ports" in raw:
        raw["gateway_service_ports"] = {int(k): int(v) for k, v in raw["gateway_service_ports"].items()}
    return TranslateOptions(**raw)


def _check(case: Case, check: dict[str, Any], value: Any, parent: Any) -> None:
    where = f"{case.source}.yaml {case.id}: {check['at']}"
    if check.get("absent"):
        # The parent must exist, so that a misspelled path cannot pass as "absent".
        assert not missing(parent), f"{where}: the parent of the path does not exist"
        assert missing(value), f"{where}: expected nothing, got {value!r}"
        return
    assert not missing(value), f"{where}: path not found"
    if "equals" in check:
        assert value == check["equals"], f"{where}"
    elif "names" in check:
        assert [v.get("name") for v in value] == check["names"], f"{where}"
    elif "contains" in check:
        assert check["contains"] in value, f"{where}: {check['contains']!r} not in {value!r}"
    else:
        raise AssertionError(f"{where}: check has no equals/absent/names/contains")


def test_cases_exist_and_have_checks() -> None:
    assert len(CASES) >= 10
    for case in CASES:
        assert case.checks, f"{case.id} has no checks"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.source}:{c.id}" for c in CASES])
def test_case(case: Case) -> None:
    w = case.world()
    translation = translate(w.objects, w.pods, w.proxies, _options(case))
    for check in case.checks:
        proxy = w.proxy(check.get("proxy", case.proxy))
        parent_path = check["at"].rsplit("/", 1)[0]
        _check(case, check, resolve(translation, proxy, check["at"]), resolve(translation, proxy, parent_path))
