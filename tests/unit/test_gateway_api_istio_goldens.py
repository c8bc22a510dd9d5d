"""convert() against istiod's own Gateway API conversion goldens (istio/istio 1.30.3
pilot/pkg/config/kube/gateway/testdata), read from a local mirror or checkout at test time; see
tests/istio_goldens.py. Skipped when neither /work/.mirror/istio+istio/repo nor $MESHRELEASE_ISTIO_SRC is there."""

from __future__ import annotations

import pytest

from tests.istio_goldens import ISTIO_TAG, SUPPORTED_FILES, compare, istio_source, unexplained

SOURCE = istio_source()
pytestmark = pytest.mark.skipif(
    SOURCE is None,
    reason=f"no istio/istio sources at {ISTIO_TAG}: set MESHRELEASE_ISTIO_SRC to a checkout or git mirror",
)


@pytest.mark.parametrize("name", SUPPORTED_FILES)
def test_convert_matches_istiod_goldens(name: str) -> None:
    assert SOURCE is not None
    problems, stale = unexplained(name, compare(SOURCE, name))
    assert not problems, f"{len(problems)} difference(s) from istiod's {name}.yaml goldens:\n" + "\n".join(problems)
    assert not stale, f"KNOWN_DIFFERENCES entries for {name} that no longer occur (remove them): {stale}"
