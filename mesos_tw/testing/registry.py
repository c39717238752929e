"""
A record of removed slaves whose reads and writes the test answers: for
unit tests of what the master does while the record is slow or failing.
"""

from twisted.internet.defer import Deferred, succeed
from zope.interface import implementer

from mesos_tw.master.registry import IRemovedSlaves

__all__ = ["ScriptedRemovedSlaves"]


@implementer(IRemovedSlaves)
class ScriptedRemovedSlaves:
    """
    An L{IRemovedSlaves} whose every L{load} and L{add} waits until the test
    settles it.

    Admissions are recorded at once (L{admitted}) unless L{held_admissions}
    is a list (then they wait there, C{(info, Deferred)}, for the test to
    fire); L{load_admitted} fires at once.

    @ivar ids: what a settled L{load} fires with; a settled L{add} adds to it.
    @ivar loads: the unsettled loads' Deferreds, oldest first.
    @ivar adds: the unsettled adds, C{(slave_id, Deferred)}, oldest first.
    @ivar unreachable_ids: C{{slave_id: seconds}}; the unreachable marks
        are not scripted: they settle at once.
    @ivar admitted: C{{slave_id: SlaveInfo}} admitted.
    """

    def __init__(self, ids=(), unreachable=None):
        self.ids = set(ids)
        self.unreachable_ids = dict(unreachable or {})
        self.loads = []
        self.adds = []
        self.admitted = {}
        self.held_admissions = None

    def admit(self, info):
        """
        Recorded at once, or held in L{held_admissions}.
        """
        if self.held_admissions is not None:
            d = Deferred()
            self.held_admissions.append((info, d))
            return d
        self.admitted[info.id.value] = info
        return succeed(None)

    def load_admitted(self):
        """
        Fires at once with the admitted slaves not removed.
        """
        return succeed({slave_id: info for slave_id, info in self.admitted.items()
                        if slave_id not in self.ids})

    def load(self):
        """
        A Deferred the test settles with L{finish_load} or L{fail_load}.
        """
        d = Deferred()
        self.loads.append(d)
        return d

    def add(self, slave_id):
        """
        A Deferred the test settles with L{finish_add} or L{fail_add}.
        """
        d = Deferred()
        self.adds.append((slave_id, d))
        return d

    def finish_load(self):
        """
        The oldest load fires with a copy of L{ids}.
        """
        self.loads.pop(0).callback(set(self.ids))

    def fail_load(self, error):
        """
        The oldest load fails with C{error}.
        """
        self.loads.pop(0).errback(error)

    def finish_add(self):
        """
        The oldest add is made durable, and fires.
        """
        slave_id, d = self.adds.pop(0)
        self.ids.add(slave_id)
        d.callback(None)

    def fail_add(self, error):
        """
        The oldest add fails with C{error}; nothing is recorded.
        """
        self.adds.pop(0)[1].errback(error)

    def unreachable(self):
        """
        Fires at once with a copy of L{unreachable_ids}.
        """
        return succeed(dict(self.unreachable_ids))

    def mark_unreachable(self, slave_id, when):
        """
        Records the slave in L{unreachable_ids}, no longer admitted; fires
        at once.
        """
        self.unreachable_ids[slave_id] = when
        self.admitted.pop(slave_id, None)
        return succeed(None)

    def mark_reachable(self, slave_id):
        """
        Drops the slave from L{unreachable_ids}; fires at once.
        """
        self.unreachable_ids.pop(slave_id, None)
        return succeed(None)
