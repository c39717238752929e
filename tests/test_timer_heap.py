"""
Tests for L{mesos_tw.testing.timer_heap.TimerHeap}, the emulated slaves'
timers, on a fake clock.
"""

from twisted.internet.error import AlreadyCalled, AlreadyCancelled
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from mesos_tw.testing.timer_heap import TimerHeap


class TimerHeapTests(SynchronousTestCase):
    """
    Timers due at their times, in order, on one reactor timer.
    """

    def setUp(self):
        self.clock = Clock()
        self.timers = TimerHeap(self.clock)
        self.called = []

    def test_interfaces(self):
        """
        It provides L{IReactorTime}, its timers L{IDelayedCall}.
        """
        self.assertTrue(verifyObject(IReactorTime, self.timers))
        self.assertTrue(verifyObject(IDelayedCall, self.timers.callLater(1, self.called.append, 1)))

    def test_called_in_order_at_their_times(self):
        """
        Each timer is called at its time, with its arguments, in the order
        of their times (in the order set, for equal times); the reactor
        holds one timer meanwhile.
        """
        for delay, name in [(3, "c"), (1, "a"), (2, "b"), (1, "a2")]:
            self.timers.callLater(delay, self.called.append, name)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.advance(1)
        self.assertEqual(self.called, ["a", "a2"])
        self.clock.advance(1.5)
        self.assertEqual(self.called, ["a", "a2", "b"])
        self.clock.advance(0.5)
        self.assertEqual(self.called, ["a", "a2", "b", "c"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_earlier_timer_moves_the_reactor_timer(self):
        """
        A timer earlier than every other is called at its own time.
        """
        self.timers.callLater(10, self.called.append, "late")
        self.timers.callLater(0.25, self.called.append, "early")
        self.clock.advance(0.25)
        self.assertEqual(self.called, ["early"])
        self.assertEqual(self.timers.seconds(), 0.25)

    def test_cancelled_not_called(self):
        """
        A cancelled timer is not called and no longer counts among the
        delayed calls; cancelling it again, or a called one, raises as the
        reactor's would.
        """
        cancelled = self.timers.callLater(1, self.called.append, "cancelled")
        kept = self.timers.callLater(2, self.called.append, "kept")
        cancelled.cancel()
        self.assertFalse(cancelled.active())
        self.assertEqual(self.timers.getDelayedCalls(), [kept])
        self.clock.advance(2)
        self.assertEqual(self.called, ["kept"])
        self.assertRaises(AlreadyCancelled, cancelled.cancel)
        self.assertRaises(AlreadyCalled, kept.cancel)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_timer_set_by_a_timer(self):
        """
        A timer's call may set another, which is then called at its time.
        """
        self.timers.callLater(1, lambda: self.timers.callLater(1, self.called.append, "next"))
        self.clock.advance(1)
        self.assertEqual(self.called, [])
        self.clock.advance(1)
        self.assertEqual(self.called, ["next"])

    def test_failure_logged_others_called(self):
        """
        A call that raises is logged; the timers after it are still called.
        """
        self.timers.callLater(1, lambda: 1 / 0)
        self.timers.callLater(1, self.called.append, "after")
        self.clock.advance(1)
        self.assertEqual(self.called, ["after"])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
