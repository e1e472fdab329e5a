"""primps_core.threads: the torch thread count (validated, never more than the cores) and the OpenMP
wait policy (set before torch loads libgomp, never over the user's choice). No timings here:
benchmarks/thread_stall.py measures them."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from primps_core import threads


@pytest.fixture
def restore_threads():
    """Give torch its thread count back after a test that changes it."""
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


def test_configure_sets_torch_threads(restore_threads):
    assert threads.configure(3) == 3
    assert torch.get_num_threads() == 3
    assert threads.configure(1) == 1
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -1, "x", "2", 1.5, True])
def test_configure_rejects_what_is_not_a_count(bad, restore_threads):
    before = torch.get_num_threads()
    with pytest.raises(ValueError, match=r"--threads\) must be a whole number, at least 1; got"):
        threads.configure(bad)
    assert torch.get_num_threads() == before


def test_configure_none_uses_the_default(monkeypatch, restore_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.configure(None) == 1
    assert torch.get_num_threads() == 1


def test_default_is_at_least_one_and_at_most_the_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert 1 <= threads.default_threads() <= len(os.sched_getaffinity(0))


def test_default_honours_the_users_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.default_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "0")                  # not a count: the free cores decide
    monkeypatch.setattr(threads, "free_cores", lambda: 2)
    assert threads.default_threads() == 2


def test_default_shares_the_free_cores_among_torchrun_processes(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "free_cores", lambda: 8)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert threads.default_threads() == 2
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "16")
    assert threads.default_threads() == 1


@pytest.mark.parametrize("busy, free", [(0.0, 4), (0.4, 4), (1.0, 3), (2.6, 1), (9.0, 1)])
def test_free_cores_leave_out_the_busy_ones(monkeypatch, busy, free):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(threads, "busy_cores", lambda cores: busy)
    assert threads.free_cores() == free


def test_busy_cores_is_within_the_cores():
    cores = os.sched_getaffinity(0)
    assert 0.0 <= threads.busy_cores(cores, 0.05) <= len(cores)


def test_busy_cores_falls_back_to_the_load_average(monkeypatch):
    def unreadable(cores):
        raise OSError("no /proc/stat")
    monkeypatch.setattr(threads, "_core_times", unreadable)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 1.0, 0.5))
    assert threads.busy_cores({0, 1}, 0.0) == 1.5


def test_set_wait_policy_sets_passive_but_keeps_the_users_choice(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert threads.set_wait_policy() is False                   # torch is imported here: too late for this process
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    threads.set_wait_policy()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_plan_spins_with_a_free_core_per_thread_and_sleeps_when_oversubscribed(monkeypatch):
    monkeypatch.setattr(threads, "free_cores", lambda: 2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert threads.plan(None) == 2 and "OMP_WAIT_POLICY" not in os.environ
    assert threads.plan(2) == 2 and "OMP_WAIT_POLICY" not in os.environ
    assert threads.plan(3) == 3 and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    with pytest.raises(ValueError, match="at least 1; got 0"):
        threads.plan(0)


def libgomp_settings(code: str) -> tuple[str, str]:
    """(stdout, the settings torch's libgomp printed as it loaded) of ``code`` in a new Python
    without OMP_WAIT_POLICY or GOMP_SPINCOUNT."""
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    done = subprocess.run([sys.executable, "-c", code], env=environment | {"OMP_DISPLAY_ENV": "VERBOSE"},
                          capture_output=True, text=True, check=True)
    return done.stdout.strip(), done.stderr


def test_wait_policy_reaches_libgomp_when_set_before_torch():
    out, settings = libgomp_settings("from primps_core import threads; print(threads.set_wait_policy()); "
                                     "import os, torch; print(os.environ['OMP_WAIT_POLICY'])")
    assert out.split() == ["True", "PASSIVE"]
    assert "GOMP_SPINCOUNT = '0'" in settings                   # sleeps at once: no spinning


def test_wait_policy_set_after_torch_does_not_reach_libgomp():
    out, settings = libgomp_settings("import torch; from primps_core import threads; print(threads.set_wait_policy())")
    assert out == "False"
    assert "GOMP_SPINCOUNT = '" in settings and "GOMP_SPINCOUNT = '0'" not in settings
