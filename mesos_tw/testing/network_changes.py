"""
Tests that change this machine's network, and the tests a change would
disturb.  A network lab (L{mesos_tw.testing.netns}) adds a bridge with an
address, veths, and takes links down and up, all in the root namespace,
which every test process on the machine shares (C{trial --jobs}, other
checkouts' suites).  Chromium fails a page load whose connection is being
made when it sees an address or link change (C{net::ERR_NETWORK_CHANGED};
it then prints no DOM and exits 0), so a browser test run beside a lab
failed now and then.  A lock file orders them: a change holds it
exclusively (L{changing_network}), a browser run shared
(L{network_steady}).
"""

import fcntl
import os
import tempfile
from contextlib import contextmanager

from twisted.internet.defer import inlineCallbacks

from mesos_tw.testing.local_cluster import until

__all__ = ["LOCK", "changing_network", "hold_network_change", "network_steady"]

#: The lock file, shared by every test process on this machine.
LOCK = os.path.join(tempfile.gettempdir(), "mesos_tw-test-network-changes")

#: How long a browser run may wait for changes to end, in seconds (a lab is
#: made or removed in well under a second; a cut link lasts a few seconds).
STEADY_DEADLINE = 120.0


def _open():
    return os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o666)


@contextmanager
def changing_network():
    """
    Hold the lock exclusively while the body changes the network: waits
    (blocking) for browser runs under way to end.
    """
    lock = _open()
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)


def hold_network_change():
    """
    Take the lock exclusively until the returned function is called (for a
    change that spans reactor turns, such as a link cut for a while).
    """
    lock = _open()
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lambda: os.close(lock)


def _try_shared(lock):
    try:
        fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@inlineCallbacks
def network_steady(reactor):
    """
    Fire, once no test is changing the network, with a function that ends
    the hold; until it is called, changes wait.  Polls, so that the
    reactor runs meanwhile.
    """
    lock = _open()
    try:
        yield until(reactor, lambda: _try_shared(lock), "the network to stop changing",
                    deadline=STEADY_DEADLINE, interval=0.05)
    except BaseException:
        os.close(lock)
        raise
    return lambda: os.close(lock)
