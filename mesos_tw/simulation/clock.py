"""
Simulated time: the world's clock (L{SimulatedClock}), and the clock each
simulated process sees (L{ProcessClock}), which dies with its process and
can jump.
"""

import heapq

from twisted.internet.base import DelayedCall
from zope.interface import implementer
from twisted.internet.interfaces import IReactorTime

__all__ = ["ProcessClock", "SimulatedClock"]


@implementer(IReactorTime)
class SimulatedClock:
    """
    A L{twisted.internet.task.Clock} that keeps its calls in a heap: the
    same order (by time, then by when they were scheduled), without
    sorting every call on each new one, which a simulated hour makes
    thousands of.
    """

    def __init__(self):
        self.now = 0.0
        self._heap = []
        # id(call) -> its live heap entry; a reset call gets a new entry,
        # keeping the order it was scheduled in among calls due together.
        self._entries = {}
        self._scheduled = 0

    def seconds(self):
        """
        The current simulated time.
        """
        return self.now

    def callLater(self, delay, callable, *args, **kw):
        """
        Call C{callable(*args, **kw)} C{delay} simulated seconds from now.
        """
        call = DelayedCall(self.now + delay, callable, args, kw, self._cancelled,
                           self._reset, self.seconds)
        self._scheduled += 1
        self._push(call, self._scheduled)
        return call

    def _push(self, call, order):
        entry = (call.getTime(), order, call)
        self._entries[id(call)] = entry
        heapq.heappush(self._heap, entry)

    def _cancelled(self, call):
        self._entries.pop(id(call), None)

    def _reset(self, call):
        self._push(call, self._entries[id(call)][1])

    def _live_top(self):
        heap = self._heap
        while heap and self._entries.get(id(heap[0][2])) is not heap[0]:
            heapq.heappop(heap)
        return heap[0] if heap else None

    def next_time(self):
        """
        When the next call is due, or L{None} if none is scheduled.
        """
        top = self._live_top()
        return None if top is None else top[0]

    def getDelayedCalls(self):
        """
        The calls not yet run or cancelled, in the order they will run.
        """
        return [entry[2] for entry in sorted(self._entries.values())]

    def advance(self, amount):
        """
        Move time forward by C{amount} and run every call due by then.
        """
        self.now += amount
        while True:
            top = self._live_top()
            if top is None or top[0] > self.now:
                return
            heapq.heappop(self._heap)
            call = top[2]
            del self._entries[id(call)]
            call.called = 1
            call.func(*call.args, **call.kw)


@implementer(IReactorTime)
class ProcessClock:
    """
    What one simulated process sees of time: the world's clock, moved by
    the process's own clock jumps (L{jump}), whose calls all die with the
    process (L{kill}), as a real process's timers do.

    @ivar offset: seconds this process's clock is ahead of the world's.
    @ivar dead: whether the process is gone (nothing it schedules runs).
    """

    def __init__(self, clock):
        self.clock = clock
        self.offset = 0.0
        self.dead = False

    def seconds(self):
        """
        The time this process reads.
        """
        return self.clock.seconds() + self.offset

    def callLater(self, delay, callable, *args, **kw):
        """
        Schedule on the world's clock; the call does nothing once the
        process is dead.
        """
        return self.clock.callLater(delay, self._run, callable, args, kw)

    def _run(self, callable, args, kw):
        if not self.dead:
            callable(*args, **kw)

    def getDelayedCalls(self):
        """
        The world's pending calls (this clock does not tell its own apart).
        """
        return self.clock.getDelayedCalls()

    def jump(self, seconds):
        """
        Set this process's clock C{seconds} ahead (behind, if negative), as
        an operator or NTP stepping it would.
        """
        self.offset += seconds

    def kill(self):
        """
        The process is gone: nothing it scheduled runs.  (Its calls stay
        active, so that whatever still holds them may cancel them as a live
        process would; they do nothing when due.)
        """
        self.dead = True
