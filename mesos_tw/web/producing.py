"""
Long responses written a piece per turn of the reactor, and only while the
client reads: L{TurnProducer} is its request's push producer, so a client
that stops reading pauses it (the connection's buffer, not the process's
memory, holds what it has not read).
"""

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.python.failure import Failure
from zope.interface import implementer

__all__ = ["MAX_TURN_BYTES", "MAX_TURN_SECONDS", "TurnProducer", "produce"]

#: The longest one turn writes for (other work waits that long at most).
MAX_TURN_SECONDS = 0.05

#: How much a turn may write after the connection asked it to wait (a
#: connection asks once its buffer holds 64 KB, and a piece is often more).
MAX_TURN_BYTES = 1 << 20


@implementer(IPushProducer)
class TurnProducer:
    """
    Writes the pieces of C{pieces} (an iterator of bytes) to C{request}, a
    turn of C{reactor} at a time, pausing while the client's connection is
    full: each turn writes one piece, and more while it has taken less time
    than the reactor was away since the last turn (at most
    L{MAX_TURN_SECONDS}).  A turn the connection pauses goes on until it has
    written L{MAX_TURN_BYTES}: stopping at the first pause would write one
    piece per round of a busy reactor (the pause comes with the first
    piece, the resume a round later); the memory a client that stops
    reading can hold is still bounded, by one turn.

    @ivar done: fires once every piece is written with the iterator's
        return value (a generator's C{return}: the body's last bytes,
        which Klein writes before it finishes the request) or C{b""}; or
        fails with what the iterator raised; cancelling it (the client
        went away) stops the writing.
    @ivar paused: whether the connection asked us to wait.
    """

    def __init__(self, request, reactor, pieces, on_end=None):
        self.request = request
        self.reactor = reactor
        self.paused = False
        self.done = Deferred(lambda _: self._end())
        self._pieces = pieces
        self._on_end = on_end
        self._call = None
        self._ended = False
        # When the last turn ended (reactor time).
        self._last = None

    def start(self):
        """
        Register with the request and write the first piece now.

        @return: L{done}.
        """
        self.request.registerProducer(self, True)
        self._turn()
        return self.done

    def _turn(self):
        self._call = None
        started = self.reactor.seconds()
        # A turn writes for as long as the process was busy elsewhere since
        # the last one (at most MAX_TURN_SECONDS): a busy process then
        # streams at half its time, not a piece per round of its reactor
        # (which made a large state take minutes on a master busy with
        # 50,000 slaves); an idle one, a piece per turn.
        budget = 0.0 if self._last is None else min(MAX_TURN_SECONDS, started - self._last)
        written = 0
        while True:
            try:
                piece = next(self._pieces)
            except StopIteration as end:
                self._end()
                self.done.callback(end.value or b"")
                return
            except Exception:
                failure = Failure()
                self._end()
                self.done.errback(failure)
                return
            if piece:
                self.request.write(piece)
                written += len(piece)
            if self._ended or (self.paused and written >= MAX_TURN_BYTES) \
                    or self.reactor.seconds() - started >= budget:
                break
        self._last = self.reactor.seconds()
        if not self.paused and not self._ended:
            self._call = self.reactor.callLater(0, self._turn)

    def _end(self):
        """
        Stop for good: nothing scheduled, the producer unregistered, the
        source released.
        """
        if self._ended:
            return
        self._ended = True
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        if self.request.channel is not None:
            self.request.unregisterProducer()
        if self._on_end is not None:
            self._on_end()

    def pauseProducing(self):
        """
        The client's connection is full: write nothing until it drains.
        """
        self.paused = True
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def resumeProducing(self):
        """
        The connection drained: go on from the next turn.
        """
        self.paused = False
        if self._call is None and not self._ended:
            self._call = self.reactor.callLater(0, self._turn)

    def stopProducing(self):
        """
        The connection is going away: write no more.
        """
        self._end()


def produce(request, reactor, pieces, on_end=None):
    """
    Write C{pieces} to C{request} through a L{TurnProducer}.

    @param on_end: called once when the writing ends, however it ends (to
        close a file, say).
    @return: the producer's C{done} Deferred.
    """
    return TurnProducer(request, reactor, pieces, on_end).start()
