"""
Slave health: the master pings each slave every C{--slave_ping_timeout}
and removes one that misses C{--max_slave_ping_timeouts} pongs in a row
(Mesos's SlaveObserver).

One timer serves every slave: L{HealthChecks} is a wheel of L{SLOTS}
slots turning once per timeout, so that 50,000 slaves cost one reactor
timer, not 50,000.  Slaves join the slots in turn, so that their pings are
spread over the period however their registrations came.

Unlike Mesos's C{SlaveObserver}, which pings a slave the moment it
registers, a slave's first ping comes when the wheel reaches its slot,
within one timeout: after a failover 10,000 slaves re-register within a
second or two, and their 10,000 pings and pongs in that second slowed the
new leader's recovery (C{docs/compatibility.md} has the runs).  A slave that dies just after
registering is found at most one timeout later than Mesos finds it.
"""

from twisted.internet.task import LoopingCall

from mesos_tw.protocols.messages_pb2 import PingSlaveMessage

__all__ = ["HealthChecks", "SLOTS", "SlaveObserver"]

# Every ping is the same empty message, never changed: made once.
_PING = PingSlaveMessage()

#: Slots per turn of the wheel: a slave's pings come every timeout (the
#: first one within a timeout of its registration).
SLOTS = 16


class HealthChecks:
    """
    Pings every observed slave once per C{timeout} seconds, on C{clock}.

    @param node: the message node pings are sent through.
    """

    def __init__(self, clock, node, timeout, max_timeouts):
        self._node = node
        self.timeout = timeout
        self.max_timeouts = max_timeouts
        self._slots = [{} for _ in range(SLOTS)]
        self._index = 0
        # The slot the next slave observed joins: round-robin over the
        # slots, starting with the one the wheel serves first.
        self._joining = 1
        self._loop = LoopingCall.withCount(self._turn)
        self._loop.clock = clock

    def start(self):
        """
        Start turning the wheel.
        """
        self._loop.start(self.timeout / SLOTS, now=False)

    def stop(self):
        """
        Stop every slave's pings.
        """
        if self._loop.running:
            self._loop.stop()

    def observe(self, pid, on_timeout):
        """
        A new L{SlaveObserver} of the slave at C{pid} (pinging starts with
        its L{SlaveObserver.start}).
        """
        return SlaveObserver(self, pid, on_timeout)

    def _add(self, observer):
        self._slots[self._joining][observer] = None
        self._joining = (self._joining + 1) % SLOTS

    def _remove(self, observer):
        for slot in self._slots:
            if slot.pop(observer, False) is None:
                return

    def _turn(self, steps):
        # A busy reactor (or a test's clock) may skip steps: serve every
        # slot passed, each slave once however long the wait.
        for _ in range(min(steps, SLOTS)):
            self._index = (self._index + 1) % SLOTS
            for observer in list(self._slots[self._index]):
                observer.ping()

    def _send_ping(self, pid):
        self._node.send(pid, _PING)


class SlaveObserver:
    """
    One slave's health checks, on its master's L{HealthChecks}.

    @ivar pid: where pings go (a re-registering slave may have moved).
    @ivar missed: pings in a row gone unanswered.
    @param on_timeout: called with a reason once the checks' C{max_timeouts}
        pings in a row have gone unanswered; the observer then stops.
    """

    # A master may hold 50,000 of these.
    __slots__ = ("_checks", "pid", "_on_timeout", "_answered", "_running", "missed")

    def __init__(self, checks, pid, on_timeout):
        self._checks = checks
        self.pid = pid
        self._on_timeout = on_timeout
        self._answered = True
        self._running = False
        self.missed = 0

    def start(self):
        """
        Ping when the wheel reaches this slave's slot (within one timeout),
        then once per timeout.
        """
        if not self._running:
            self._running = True
            self._checks._add(self)

    def stop(self):
        """
        Stop pinging.
        """
        if self._running:
            self._running = False
            self._checks._remove(self)

    def pong(self):
        """
        The slave answered: it is healthy.
        """
        self._answered = True
        self.missed = 0

    def ping(self):
        """
        Count the last ping if it went unanswered, then ping again (or give
        up on the slave).
        """
        if not self._answered:
            self.missed += 1
            if self.missed >= self._checks.max_timeouts:
                self.stop()
                self._on_timeout(f"missed {self.missed} pings in a row")
                return
        self._answered = False
        self._checks._send_ping(self.pid)
