"""
The lock that keeps browser tests from loading pages while another test
changes this machine's network (L{mesos_tw.testing.network_changes}).
"""

import fcntl
import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.testing import network_changes
from mesos_tw.testing.network_changes import (
    changing_network,
    hold_network_change,
    network_steady,
)


class NetworkChangesTests(SynchronousTestCase):
    """
    Changes hold the lock exclusively, browser runs shared.
    """

    def setUp(self):
        self.patch(network_changes, "LOCK", os.path.abspath(self.mktemp()))
        self.clock = Clock()

    def exclusive_is_free(self):
        """
        Whether a change could start now (flock locks of two open files
        conflict even within one process).
        """
        probe = os.open(network_changes.LOCK, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(probe)
        return True

    def test_browser_waits_for_a_change(self):
        """
        A browser run asked for during a change starts once it ends.
        """
        end_change = hold_network_change()
        steady = network_steady(self.clock)
        self.clock.advance(1)
        self.assertNoResult(steady)
        end_change()
        self.clock.advance(0.05)
        self.successResultOf(steady)()

    def test_change_waits_for_browser(self):
        """
        While a browser runs, no change can start; after, one can.
        """
        release = self.successResultOf(network_steady(self.clock))
        self.assertFalse(self.exclusive_is_free())
        release()
        self.assertTrue(self.exclusive_is_free())

    def test_browsers_share(self):
        """
        Two browser runs may hold the lock at once; a change in a
        C{changing_network} block holds it alone.
        """
        first = self.successResultOf(network_steady(self.clock))
        second = self.successResultOf(network_steady(self.clock))
        first()
        second()
        with changing_network():
            steady = network_steady(self.clock)
            self.assertNoResult(steady)
        self.clock.advance(0.05)
        self.successResultOf(steady)()

    def test_waits_are_bounded(self):
        """
        A change that never ends fails the browser run after the deadline,
        saying what it waited for.
        """
        end_change = hold_network_change()
        self.addCleanup(end_change)
        steady = network_steady(self.clock)
        self.clock.pump([1] * int(network_changes.STEADY_DEADLINE + 2))
        failure = self.failureResultOf(steady, AssertionError)
        self.assertIn("the network to stop changing", str(failure.value))
