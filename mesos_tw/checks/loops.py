"""
The loop a health check runs on, on a C{selectors} selector: the command
executor's own loop (it does not import Twisted, to start fast).

A loop offers C{seconds()} (a monotonic clock), C{call_later(delay, f,
*args)} returning a timer with C{cancel()} and C{active()}, and C{watch(file,
events, callback)} / C{unwatch(file)} to be told when a file descriptor is
readable (C{selectors.EVENT_READ}) or writable (C{selectors.EVENT_WRITE}).
L{mesos_tw.checks.twisted_loop.ReactorLoop} offers the same on a reactor.
"""

import heapq
import itertools
import selectors
import time

__all__ = ["SelectorLoop"]


class _Timer:
    """
    A call waiting for its time.
    """

    def __init__(self, when, function, args):
        self.when = when
        self.function = function
        self.args = args
        self.cancelled = False
        self.called = False

    def cancel(self):
        """
        Do not call it.
        """
        self.cancelled = True

    def active(self):
        """
        Whether it is still to be called.
        """
        return not (self.cancelled or self.called)


class SelectorLoop:
    """
    Timers and file descriptor watches on one selector.

    The owner's loop calls L{poll} again and again; each file's callback is
    called when it is ready, and each timer when it is due.

    @param clock: returns monotonic seconds.
    """

    def __init__(self, selector=None, clock=time.monotonic):
        self.selector = selector if selector is not None else selectors.DefaultSelector()
        self.clock = clock
        self._timers = []
        self._sequence = itertools.count()

    def seconds(self):
        """
        The time now, in monotonic seconds.
        """
        return self.clock()

    def call_later(self, delay, function, *args):
        """
        Call C{function(*args)} in C{delay} seconds.
        """
        timer = _Timer(self.clock() + max(delay, 0.0), function, args)
        heapq.heappush(self._timers, (timer.when, next(self._sequence), timer))
        return timer

    def watch(self, fileobj, events, callback):
        """
        Call C{callback()} whenever C{fileobj} is ready for C{events}.
        """
        self.selector.register(fileobj, events, callback)

    def unwatch(self, fileobj):
        """
        Stop watching C{fileobj}.
        """
        try:
            self.selector.unregister(fileobj)
        except (KeyError, ValueError):
            pass

    def timeout(self):
        """
        Seconds until the next timer is due (L{None} if there is none).
        """
        while self._timers and not self._timers[0][2].active():
            heapq.heappop(self._timers)
        if not self._timers:
            return None
        return max(0.0, self._timers[0][0] - self.clock())

    def run_due(self):
        """
        Call every timer that is due.
        """
        now = self.clock()
        while self._timers and self._timers[0][0] <= now:
            timer = heapq.heappop(self._timers)[2]
            if timer.active():
                timer.called = True
                timer.function(*timer.args)

    def poll(self, timeout=None):
        """
        Wait for the first ready file or due timer (at most C{timeout}
        seconds, if given) and call what is ready.

        @return: C{False} if a file's callback returned C{False} (its owner
            wants the loop to end), else C{True}.
        """
        self.run_due()
        wait = self.timeout()
        if timeout is not None:
            wait = timeout if wait is None else min(wait, timeout)
        carry_on = True
        for key, _ in self.selector.select(wait):
            if key.data() is False:
                carry_on = False
        self.run_due()
        return carry_on
