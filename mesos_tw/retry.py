"""
Doing something again until it works: registration with a master is sent at
once, then again after a random wait of up to 1 s, 2 s, 4 s, ... up to a
cap, until the answer comes.

The waits are "full jitter" (a uniform draw between zero and the current
cap, as Mesos's slaves and Twisted's C{ClientService} back-off policies
draw theirs), so a thousand slaves that lost their master together do not
retry in lock-step.  The clock and the random source are injected: tests
pass a C{Clock} and a fixed C{jitter}.
"""

import random

from mesos_tw.constants import REGISTRATION_BACKOFF_MAX, REGISTRATION_RETRY_INTERVAL

__all__ = ["RetryWithBackoff"]


class RetryWithBackoff:
    """
    Calls C{action} repeatedly on C{clock}, doubling the cap on the wait
    each time up to C{maximum}, until L{stop} is called.

    @param jitter: returns a number in [0, 1]; each wait is the current cap
        times a fresh draw (C{lambda: 1.0} waits the whole cap each time).
    """

    def __init__(self, clock, action, initial=REGISTRATION_RETRY_INTERVAL,
                 maximum=REGISTRATION_BACKOFF_MAX, jitter=random.random):
        self._clock = clock
        self._action = action
        self._initial = initial
        self._maximum = maximum
        self._jitter = jitter
        self._interval = initial
        self._call = None

    @property
    def running(self):
        """
        Whether another attempt is scheduled.
        """
        return self._call is not None

    def start(self, delay=0.0, minimum=0.0):
        """
        (Re)start from the initial interval: act now, or after C{minimum}
        seconds and a random wait of up to C{delay} more.
        """
        self.stop()
        self._interval = self._initial
        if delay or minimum:
            self._call = self._clock.callLater(minimum + delay * self._jitter(), self._attempt)
        else:
            self._attempt()

    def stop(self):
        """
        Cancel the next attempt.
        """
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _attempt(self):
        self._call = self._clock.callLater(self._interval * self._jitter(), self._attempt)
        self._interval = min(self._interval * 2, self._maximum)
        self._action()
