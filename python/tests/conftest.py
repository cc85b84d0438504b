"""Fixtures of the ustack module's tests: two hosts over an in-memory link (no root).

A watchdog (faulthandler) ends the run with a traceback if one test exceeds TEST_DEADLINE_S --
e.g. if a blocking call held the GIL and so starved the thread that would have unblocked it.
"""

import faulthandler

import pytest

from support import make_pair

TEST_DEADLINE_S = 60


@pytest.fixture(autouse=True)
def deadline():
    faulthandler.dump_traceback_later(TEST_DEADLINE_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def pair():
    """(A, B): host A 10.9.0.1 and host B 10.9.0.2, with disconnect (and connect) data."""
    a, b = make_pair()
    try:
        yield a, b
    finally:
        a.close()
        b.close()


@pytest.fixture
def plain_pair():
    """(A, B) without the disconnect-data option."""
    a, b = make_pair(disconnect_data=False)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


