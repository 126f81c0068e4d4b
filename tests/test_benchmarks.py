"""Every benchmark at its smallest size prints its JSON line; the figures are not judged."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.__main__ import BENCHMARKS, main

FIELDS: dict[str, dict[str, type]] = {
    "update_throughput": {
        "ours_per_s": float,
        "floor_per_s": float,
        "ratio": float,
        "webhook_per_s": float,
        "webhook_vs_polling": float,
    },
    "delivery_latency": {
        "orders": int,
        "p50_s": float,
        "p99_s": float,
        "bound_s": float,
        "p99_over_bound": float,
        "max_rps_seen": int,
        "rate_limit": int,
        "refused": int,
        "cpu_s_per_1000_polls": float,
    },
    "resume_and_memory": {"orders": int, "resume_s": float, "peak_rss_mb": float},
    "menu_latency": {"p50_ms": float, "p95_ms": float},
    "telegram_budget": {},
    "fairness": {
        "orders": int,
        "sms": int,
        "flooders": int,
        "rounds": int,
        "calm_p99_s": float,
        "flood_p99_s": float,
        "p99_ratio": float,
        "calm_tap_p95_ms": float,
        "flood_tap_p95_ms": float,
        "retries_429": int,
        "max_sends_per_s": int,
        "max_provider_rps": int,
        "provider_refused": int,
        "calm_peak_rss_mb": float,
        "flood_peak_rss_mb": float,
        "file_growth_mb": float,
        "flood_updates": int,
    },
}
# Benchmarks printing one line per `case`, each case with fields of its own.
CASES: dict[str, dict[str, dict[str, type]]] = {
    "telegram_budget": {
        "steady": {
            "open_orders": int,
            "duration_s": float,
            "max_sends_per_s": int,
            "retries_429": int,
            "tap_p95_ms": float,
        },
        "burst": {
            "open_orders": int,
            "codes": int,
            "max_sends_per_s": int,
            "retries_429": int,
            "last_code_s": float,
            "bound_s": float,
            "last_code_over_bound": float,
            "tap_p95_ms": float,
        },
    },
}


pytestmark = pytest.mark.usefixtures("compiled_catalogs")


def test_every_benchmark_is_checked() -> None:
    assert list(FIELDS) == list(BENCHMARKS)


@pytest.mark.parametrize("name", list(FIELDS))
def test_benchmark_prints_its_json_line(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke", name]) == 0
    lines = capsys.readouterr().out.splitlines()
    objects = [json.loads(line) for line in lines if line.startswith("{")]
    assert objects, "no JSON line"
    for line in lines:
        if not line.startswith("{"):
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)
    if name in CASES:
        assert [found.get("case") for found in objects] == list(CASES[name])
    for found in objects:
        assert found.pop("name") == name
        fields = CASES[name][found.pop("case")] if name in CASES else FIELDS[name]
        assert set(found) == set(fields)
        for field, kind in fields.items():
            value = found[field]
            assert type(value) is kind, f"{field} is {value!r}"
            assert isinstance(value, int | float)
            assert math.isfinite(value), f"{field} is {value!r}"
            assert value >= 0, f"{field} is {value!r}"
