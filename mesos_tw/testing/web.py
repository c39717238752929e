"""
A request in memory whose response is written by a push producer
(L{mesos_tw.web.producing}): C{DummyRequest} would call a registered
producer's C{resumeProducing} in a loop, so this one only keeps it.  And
the real browser the UI's functional tests drive (L{chromium},
L{run_chromium}, which keeps other tests from changing the network while
it loads a page).
"""

import os
import shutil

from twisted.internet.defer import inlineCallbacks
from twisted.internet.testing import StringTransport
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest
from twisted.web.test.requesthelper import DummyRequest

from mesos_tw.testing.network_changes import network_steady

__all__ = ["ProducerRequest", "chromium", "run_chromium"]


def chromium():
    """
    Debian's Chromium, or L{SkipTest} saying it is missing.
    """
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SkipTest("Chromium is not installed (scripts/test installs Debian's chromium as root)")


@inlineCallbacks
def run_chromium(reactor, browser, args):
    """
    Run Chromium (C{browser}) with C{args} while no test changes this
    machine's network (L{mesos_tw.testing.network_changes}): it would fail
    the page load.

    @return: a Deferred firing with C{(stdout, stderr, exit code)}.
    """
    release = yield network_steady(reactor)
    try:
        return (yield getProcessOutputAndValue(browser, args, env=os.environ.copy(),
                                               reactor=reactor))
    finally:
        release()


class ProducerRequest(DummyRequest):
    """
    A C{DummyRequest} that keeps the producer registered with it
    (C{producer}, L{None} once unregistered) instead of running it, and
    has a connection (C{channel}, as a real request has until its client
    goes).
    """

    producer = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.transport = self.channel = StringTransport()

    def isSecure(self):
        """
        Whether it came over TLS: in memory, never.
        """
        return False

    def registerProducer(self, producer, streaming):
        """
        Keep the producer.
        """
        self.producer = producer

    def unregisterProducer(self):
        """
        Forget it.
        """
        self.producer = None
