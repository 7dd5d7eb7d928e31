"""One night at a time on a warehouse (`orchestration.run_lock`): a second command-line cycle waits
for the first or refuses, the scheduler's first task waits for it, and a killed holder leaves
nothing behind. Real PostgreSQL (the session warehouse); no night is run here (tests/test_nightly.py
runs two cycles started together)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from credit_dw.orchestration import run_lock


def _holder(url: str) -> str | None:
    from credit_dw.db.connect import connect

    with connect(url, autocommit=True) as conn:
        return run_lock.holder(conn)


def test_a_second_cycle_refuses_or_waits_and_says_whose_night_runs(warehouse_url):
    assert _holder(warehouse_url) is None
    order: list[str] = []
    told: list[str] = []
    with run_lock.night_lock("credit-dw run --date 2026-11-23", url=warehouse_url):
        assert "credit-dw run --date 2026-11-23" in _holder(warehouse_url)
        with pytest.raises(run_lock.NightInProgress, match=r"another night is running.*2026-11-23"):
            with run_lock.night_lock("credit-dw run --date 2026-11-24", url=warehouse_url, wait=False):
                pytest.fail("took a held lock")

        def second() -> None:
            with run_lock.night_lock("credit-dw run --date 2026-11-24", url=warehouse_url,
                                     on_wait=told.append, poll_seconds=0.1):
                order.append("second")

        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(1.0)
        order.append("first ends")
    waiter.join(timeout=30)
    assert order == ["first ends", "second"]
    assert len(told) == 1 and "2026-11-23" in told[0]
    assert _holder(warehouse_url) is None


def test_the_schedulers_night_waits_for_a_command_line_night(warehouse_url):
    from contextlib import ExitStack

    slept: list[float] = []
    with ExitStack() as held:
        held.enter_context(run_lock.night_lock("credit-dw backfill", url=warehouse_url))

        def sleep(seconds: float) -> None:  # the command-line night ends during the first wait
            slept.append(seconds)
            held.close()

        run_lock.wait_until_free(url=warehouse_url, poll_seconds=7, sleep=sleep)
    assert slept == [7]

    with run_lock.night_lock("credit-dw run --date 2026-11-25", url=warehouse_url):
        with pytest.raises(RuntimeError, match="command-line night still holds the warehouse"):
            run_lock.wait_until_free(url=warehouse_url, poll_seconds=60, timeout_seconds=120, sleep=lambda _: None)


def test_a_killed_holder_leaves_no_lock_behind(warehouse_url):
    code = ("import sys, time; from credit_dw.orchestration import run_lock\n"
            "with run_lock.night_lock('killed run', url=sys.argv[1]):\n"
            "    print('held', flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, warehouse_url], stdout=subprocess.PIPE, text=True,
                            env=os.environ.copy())
    try:
        assert proc.stdout.readline().strip() == "held"
        assert "killed run" in _holder(warehouse_url)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while _holder(warehouse_url) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _holder(warehouse_url) is None
    with run_lock.night_lock("after the kill", url=warehouse_url, wait=False):
        pass

