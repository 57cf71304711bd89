"""`python -m tests.pinned ARGS...` runs the `bopo` command on the tests' clock.

A test that starts bopo in a process of its own (a mailer, a worker) while it makes
orders on the tests' pinned clock starts it here, so that both sides share one
calendar: the process's clock starts at the tests' instant and ticks on.
"""

from __future__ import annotations

import sys

import time_machine

from bopo.cli import main
from tests.clock import T0

if __name__ == "__main__":
    with time_machine.travel(T0, tick=True):
        sys.argv = ["bopo", *sys.argv[1:]]
        main()
