"""The overview's pure parts that the summary of many sites leans on (kiosk/console/chart.py, alerts.py): no
server, no database. The pages themselves: tests/test_console_overview_summary.py and test_console_web.py."""

from __future__ import annotations

from kiosk.console import alerts
from kiosk.console.chart import Chart, Hour, chart


def test_a_citys_scale_is_written_short_enough_for_the_room_left_of_the_bars() -> None:
    # A city's busiest hour runs to hundreds of thousands of scans: "2000000" would run into the bars.
    tops = {1: "1", 50: "50", 5000: "5000", 10_000: "10k", 200_000: "200k", 1_000_000: "1M", 2_000_000: "2M"}
    assert {top: Chart([], [], top, 0.0).scale for top in tops} == tops
    busy = chart([Hour(0.0, "08", 1_200_000, 130_000, 30_000, 40)], {k: k for k in ("pass", "deny", "retry", "fever")})
    assert busy.scale == "2M"


def test_alarms_come_first_and_each_level_keeps_the_order_found() -> None:
    found = [alerts.Alert("warning", "alert.silent", {"n": 1}), alerts.Alert("alarm", "alert.fever", {"n": 2}),
             alerts.Alert("warning", "alert.clock", {"n": 3}), alerts.Alert("alarm", "alert.chain", {"n": 4})]
    assert [a.values["n"] for a in alerts.ordered(found)] == [2, 4, 1, 3]
    assert [a.values["n"] for a in sorted(found, key=alerts.severity)] == [2, 4, 1, 3]
