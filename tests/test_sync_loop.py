"""The background sync loop (backoff, jitter, wake, stop) and the trust-age and clock warnings.

The loop decides when a pass runs; what a pass does is kiosk.sync.service's (tests/test_owner_sync.py).
"""

from __future__ import annotations

import threading
import time

import pytest

from kiosk.sync.health import Limits, age_text, alerts, clock_offset
from kiosk.sync.loop import LoopTiming, SyncLoop

H = 3600.0


class ScriptedPass:
    """Stands in for a sync pass: fails `failures` times (with `error` raised, else the text a pass returns),
    then goes through; records when it was called and whether the trust pull was due."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures, self.error = failures, error
        self.calls: list[float] = []
        self.pull_due: list[bool] = []
        self.called = threading.Event()

    def __call__(self, pull_due: bool, stop: threading.Event) -> str | None:
        self.calls.append(time.monotonic())
        self.pull_due.append(pull_due)
        self.called.set()
        if len(self.calls) <= self.failures:
            if self.error is not None:
                raise self.error
            return "collector down"
        return None


@pytest.mark.parametrize("failures, cap", [(1, 2.0), (2, 4.0), (3, 8.0), (8, 256.0), (9, 300.0), (60, 300.0)])
def test_backoff_is_full_jitter_under_an_exponential_cap(failures: int, cap: float) -> None:
    loop = SyncLoop(ScriptedPass(), timing=LoopTiming(base=1.0, cap=300.0), rng=lambda: 1.0)
    loop.failures = failures
    assert loop.backoff() == cap
    loop.rng = lambda: 0.25
    assert loop.backoff() == cap / 4


def test_jitter_spreads_fifty_kiosks_coming_back_at_once() -> None:
    import random

    waits = []
    for seed in range(50):
        loop = SyncLoop(ScriptedPass(), rng=random.Random(seed).random)
        loop.failures = 6
        waits.append(loop.backoff())
    assert len({round(w, 3) for w in waits}) == 50 and max(waits) - min(waits) > 30


def test_failures_are_retried_with_backoff_then_the_loop_settles() -> None:
    sync_pass = ScriptedPass(failures=3)
    loop = SyncLoop(sync_pass, timing=LoopTiming(interval=30, base=0.05, cap=0.2), rng=lambda: 1.0)
    loop.start()
    deadline = time.monotonic() + 10
    while len(sync_pass.calls) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    loop.stop()
    assert len(sync_pass.calls) == 4 and loop.failures == 0 and loop.last_error is None
    gaps = [b - a for a, b in zip(sync_pass.calls, sync_pass.calls[1:])]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.18 and gaps[2] >= 0.18  # 0.1, 0.2, then the cap


def test_a_bug_in_a_pass_does_not_kill_the_loop() -> None:
    sync_pass = ScriptedPass(failures=1, error=RuntimeError("boom"))
    loop = SyncLoop(sync_pass, timing=LoopTiming(interval=30, base=0.01, cap=0.01))
    loop.start()
    deadline = time.monotonic() + 10
    while len(sync_pass.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    loop.stop()
    assert len(sync_pass.calls) == 2 and loop.passes == 1


def test_wake_syncs_soon_when_healthy_and_stop_is_prompt() -> None:
    sync_pass = ScriptedPass()
    loop = SyncLoop(sync_pass, timing=LoopTiming(interval=600, linger=0.05))
    loop.start()
    assert sync_pass.called.wait(5)
    sync_pass.called.clear()
    loop.wake()
    assert sync_pass.called.wait(5), "a wake must start a pass long before the 600 s interval"
    started = time.monotonic()
    loop.stop()
    assert time.monotonic() - started < 2 and not loop.running


def test_wake_does_not_hurry_a_failing_collector() -> None:
    sync_pass = ScriptedPass(failures=100)
    loop = SyncLoop(sync_pass, timing=LoopTiming(base=60, cap=60), rng=lambda: 1.0)
    loop.start()
    assert sync_pass.called.wait(5)
    for _ in range(20):
        loop.wake()
        time.sleep(0.01)
    loop.stop()
    assert len(sync_pass.calls) == 1 and loop.failures == 1 and loop.last_error == "collector down"


def test_the_trust_pull_is_asked_for_when_due_and_again_after_a_failed_pass() -> None:
    sync_pass = ScriptedPass()
    loop = SyncLoop(sync_pass, timing=LoopTiming(trust_every=3600))
    loop.step()
    loop.step()
    assert sync_pass.pull_due == [True, False]  # once an hour, not at every pass
    failing = ScriptedPass(failures=1)
    loop = SyncLoop(failing, timing=LoopTiming(trust_every=3600))
    loop.step()
    loop.step()
    assert failing.pull_due == [True, True]  # a pass that failed did not refresh the trust files: still due


def test_the_clock_offset_is_taken_half_way_through_the_request() -> None:
    # Asked at 100 s and answered at 104 s by our clock, the collector said 1000 s: at 102 s ours read 1000 s.
    assert clock_offset(1000.0, 100.0, 104.0) == 898.0
    assert clock_offset(None, 100.0, 104.0) is None  # a collector that did not say its time


@pytest.mark.parametrize("age_h, offset, codes", [
    (1, 0.0, []),
    (23.9, None, []),
    (24.1, None, ["trust_old"]),
    (71.9, 0.0, ["trust_old"]),
    (72.1, 0.0, ["trust_very_old"]),
    (1, 119.0, []),
    (1, 121.0, ["clock_off"]),
    (1, -3600.0, ["clock_off"]),
    (100, -3600.0, ["trust_very_old", "clock_off"]),
    (None, None, ["trust_missing"]),
])
def test_alerts_by_trust_age_and_clock(age_h: float | None, offset: float | None, codes: list[str]) -> None:
    now = 1_795_000_000.0
    found = alerts(now, None if age_h is None else now - age_h * H, offset)
    assert [a.code for a in found] == codes
    for alert in found:
        assert alert.en and alert.zh and alert.level in ("warning", "alarm")
    assert all(a.level == "alarm" for a in found if a.code in ("trust_very_old", "trust_missing"))


def test_alert_limits_are_configurable_and_words_say_which_way_the_clock_is() -> None:
    now = 1_795_000_000.0
    assert [a.code for a in alerts(now, now - 2 * H, None, Limits(trust_warn=H, trust_alarm=3 * H))] == ["trust_old"]
    behind = alerts(now, now, 600.0)[0]
    ahead = alerts(now, now, -600.0)[0]
    assert "behind" in behind.en and "慢" in behind.zh and "ahead" in ahead.en and "快" in ahead.zh
    assert age_text(30 * H) == ("30 h", "30小时") and age_text(5 * 86400) == ("5 d", "5天")
