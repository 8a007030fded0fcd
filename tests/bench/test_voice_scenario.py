"""The voice scenario end to end against a server the test starts (API, gateway and voice
gateway in this process, the generator and the C floor in their own): every participant is
seated through op 4 and the voice gateway, and every packet of the paced run is accounted for."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import bench.voice
from bench.tool import Options, run_scenario
from bench.voice import Phases
from bench.voice_floor import available
from tests.voice.conftest import running_voice

if TYPE_CHECKING:
    from tests.running import ApiClient

pytestmark = pytest.mark.timeout(240)


async def test_every_paced_packet_reaches_every_listener_of_its_channel_once(
    api: ApiClient, gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Short phases: this checks the accounting, not how fast anything is.
    monkeypatch.setattr(bench.voice, "PHASES", Phases(0.5, 0.5, 0.5, 1))
    async with running_voice(api) as voice:
        options = Options(
            api_url=str(api.http.base_url),
            gateway_url=gateway,
            duration_s=1.0,
            speakers=2,
            listeners=3,
            voice_ca=str(voice.cert_path),
        )
        report = await run_scenario("voice", options)
    figures = report["figures"]
    assert report["parameters"]["speakers"] == 2
    assert report["parameters"]["listeners_per_speaker"] == 3
    assert figures["connections_lost"] == 0
    assert figures["forwarded_out_per_s"] > 0
    if available():
        assert figures["c_floor_out_per_s"] > 0
        assert figures["ratio_to_floor"] > 0
    else:  # a checkout away from ../shared/perf runs without its floor, and says so
        assert figures["ratio_to_floor"] is None
        assert any("no C floor" in warning for warning in report["warnings"])
    paced = figures["paced"]
    assert paced["expected"] > 0
    assert paced["received"] == paced["expected"]
    for figure in ("lost", "duplicates", "bad_tag", "stale", "misrouted"):
        assert paced[figure] == 0, figure
    assert paced["latency_ms"]["count"] == paced["received"]
    if available():
        assert report["server"]["c_floor"]["receivers"] == 3
        # The ratio is to the floor whose sink reads, as the listeners do; the holding one
        # is shown beside it.
        assert report["server"]["c_floor"]["mode"].endswith("sink reading")
        assert report["server"]["c_floor_holding"]["mode"].endswith("sink holding")
        assert figures["c_floor_holding_out_per_s"] > 0
    assert report["series"]["latency_ms"]
