"""
Tests for L{mesos_tw.retry.RetryWithBackoff}.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.retry import RetryWithBackoff


class RetryWithBackoffTests(SynchronousTestCase):
    """
    Attempts now, then after doubling intervals up to a cap, until stopped.
    """

    def setUp(self):
        self.clock = Clock()
        self.attempts = []
        self.retry = RetryWithBackoff(
            self.clock, lambda: self.attempts.append(self.clock.seconds()), 1.0, 4.0)

    def test_backoff(self):
        """
        Attempts come at 0, 1, 3, 7, 11 s: intervals 1, 2, 4, 4.
        """
        self.retry.start()
        for _ in range(11):
            self.clock.advance(1)
        self.assertEqual(self.attempts, [0, 1, 3, 7, 11])

    def test_stop(self):
        """
        After stop, no more attempts.
        """
        self.retry.start()
        self.retry.stop()
        self.clock.advance(100)
        self.assertEqual((self.attempts, self.retry.running), ([0], False))

    def test_delayed_start_resets(self):
        """
        A delayed restart waits, then starts again from the first interval.
        """
        self.retry.start()
        for _ in range(7):
            self.clock.advance(1)
        self.retry.start(delay=2)
        self.clock.advance(2)
        self.clock.advance(1)
        self.assertEqual(self.attempts, [0, 1, 3, 7, 9, 10])

    def test_stop_from_the_action(self):
        """
        An action that stops the retry ends it.
        """
        retry = RetryWithBackoff(self.clock, lambda: retry.stop(), 1.0, 4.0)
        retry.start()
        self.assertFalse(retry.running)
        self.assertEqual(self.clock.getDelayedCalls(), [])
