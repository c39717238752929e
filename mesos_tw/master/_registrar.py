"""
The master's use of its registry of admitted and removed slaves
(L{mesos_tw.master.registry}).  Mixed into L{mesos_tw.master.master.Master},
whose state it uses.

A term reads the registry when it starts, and handles nothing until it has
(the master holds every message and lost peer meanwhile), so that no slave
an earlier leader removed is admitted again.  The slaves earlier leaders
admitted, and did not remove, are expected back: those that have not
re-registered after C{slave_reregister_timeout} are marked unreachable
(Mesos's C{recoveredSlavesTimeout}): that is recorded, every framework
hears C{slaveLost}, a reconciliation of one of its tasks answers
C{TASK_LOST} (C{TASK_UNREACHABLE} for partition-aware frameworks), and if
it comes back it is admitted again with its tasks, as any unreachable
slave.  This master never
knew those tasks, so it has no update to send for them by itself, as in
Mesos.  Until then a reconciliation of a task it does not know on such a
slave gets no answer (Mesos's case 2): the slave may yet bring the task.

A slave is admitted (recorded with its C{SlaveInfo}) before its
registration, or the re-registration of a slave the registry does not
list, is answered; a write that fails leaves it unanswered (it retries).

A removal is recorded before anyone hears of it, as in Mesos: the slave
leaves the master's state and the allocator at once, but its tasks'
C{TASK_LOST} updates, the frameworks' C{slaveLost} and the slave's
C{ShutdownMessage} wait until the write fires.  Otherwise a leader dying
just after reporting the tasks lost, but before recording the removal,
would let the next leader admit the slave again, and its lost tasks would
come back.  A write that fails is retried, with a logged error each time,
for as long as the term lasts; if the term ends first, nothing was reported
lost and the next leader accepts the slave, so the frameworks' view stays
consistent.  A slave re-registering while its removal is being written is
answered once it is written.

A slave that stops answering pings is not removed but recorded as
I{unreachable} (L{mesos_tw.master._partitions}), in the same order: the
write first, then its tasks' C{TASK_UNREACHABLE}/C{TASK_LOST} and
C{slaveLost}.  It is not told to shut down, and is re-admitted when it
re-registers, by this leader or a later one (which reads the unreachable
slaves from the registry too).
"""

from twisted.internet.defer import FirstError, gatherResults

from mesos_tw import constants
from mesos_tw.master.recovery_progress import RecoveryProgress
from mesos_tw.master.state import SlaveRecord
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources

__all__ = ["MAX_UNSETTLED_ADMISSIONS", "PendingRemoval", "RegistryManagement"]

#: Senders whose new slave's id is kept after its admission failed, at most.
MAX_UNSETTLED_ADMISSIONS = 4096


class PendingRemoval:
    """
    A slave whose removal is being written to the registry.

    @ivar updates: the C{(framework_id, StatusUpdate)} C{TASK_LOST} updates
        of its tasks, sent once the removal is recorded.
    @ivar shutdown: whether to send the slave C{ShutdownMessage} then.
    @ivar unreachable: the time the slave was found unreachable, when it
        was (it is recorded as unreachable, not removed, and may come
        back), or L{None}.
    @ivar waiting: C{(sender, ReregisterSlaveMessage)} that came meanwhile.
    @ivar tell_lost: whether every framework hears C{slaveLost} then (not
        for a slave that was lost already: an unreachable one marked gone).
    """

    def __init__(self, slave, reason, updates, shutdown, unreachable=None, tell_lost=True):
        self.slave = slave
        self.reason = reason
        self.updates = updates
        self.shutdown = shutdown
        self.unreachable = unreachable
        self.tell_lost = tell_lost
        self.waiting = []


class RegistryManagement:
    """
    Reading the registry, and recording removals in it, for the L{Master}.
    """

    def _retry_later(self, attempt, action, *args):
        """
        Call C{action(*args)} after a delay that doubles with C{attempt}
        (from 0), unless the master stops first.

        @return: the delay, in seconds.
        """
        delay = min(constants.REGISTRY_RETRY_INTERVAL * 2 ** attempt,
                    constants.REGISTRY_RETRY_MAX)

        def fire():
            self._retries.discard(call)
            action(*args)

        call = self.reactor.callLater(delay, fire)
        self._retries.add(call)
        return delay

    def _recover(self, attempt):
        """
        Read the registry; until it is read, every message and lost peer
        waits, so that no slave an earlier leader removed is admitted again.
        """
        d = gatherResults([self.registry.load(), self.registry.load_admitted(),
                           self.registry.unreachable()], consumeErrors=True)
        d.addCallbacks(self._recovered, self._recovery_failed, errbackArgs=(attempt,))
        d.addErrback(lambda failure: self.log.failure(
            "Failed to handle what waited for the registry", failure))

    def _recovered(self, results):
        if self._stopped:
            return
        removed, admitted, unreachable = results
        self.removed_slaves |= removed
        for slave_id, when in unreachable.items():
            self.unreachable_slaves.setdefault(slave_id, when)
        self.recovered = True
        # A slave both admitted and unreachable (a leader died between the
        # two writes) is unreachable.
        self.recovered_slaves = {slave_id: info for slave_id, info in admitted.items()
                                 if slave_id not in self.removed_slaves
                                 and slave_id not in self.unreachable_slaves
                                 and slave_id not in self.slaves}
        self._schedule_registry_gc()
        if self.recovered_slaves:
            self._recovered_slaves_call = self.reactor.callLater(
                self.slave_reregister_timeout, self._recovered_slaves_timeout)
            self.recovery_progress = RecoveryProgress(
                self.reactor, len(self.recovered_slaves), self.reactor.seconds(),
                hold=self.collector_hold)
        self.log.info("Read the registry: {count} slaves were removed and {unreachable} found "
                      "unreachable by earlier leaders, {expected} are expected to re-register "
                      "within {timeout}s; handling the {waiting} messages that waited for it",
                      count=len(removed), unreachable=len(unreachable),
                      expected=len(self.recovered_slaves),
                      timeout=self.slave_reregister_timeout, waiting=len(self._held))
        held, self._held = self._held, []
        for kind, sender, message in held:
            self._handle(kind, sender, message)

    def _recovery_failed(self, failure, attempt):
        if self._stopped:
            return
        if failure.check(FirstError):
            failure = failure.value.subFailure
        delay = self._retry_later(attempt, self._recover, attempt + 1)
        self.log.error("Cannot read the registry: {error}; nothing is "
                       "handled until it is read (retrying in {delay}s)",
                       error=failure.getErrorMessage(), delay=delay)

    def removal_pending(self, slave_id):
        """
        Whether slave C{slave_id}'s removal (or unreachability) is being
        recorded in the registry.
        """
        return slave_id in self._removing

    def _stop_waiting_for_recovered(self):
        """
        No slave the registry listed is expected any more (each came back
        or was marked gone), or the term ended: the timeout that would mark
        them unreachable is not needed.
        """
        call, self._recovered_slaves_call = self._recovered_slaves_call, None
        if call is not None and call.active():
            call.cancel()

    def _recovered_slaves_timeout(self):
        """
        C{slave_reregister_timeout} after the registry was read: mark
        unreachable every slave it listed that has not re-registered.
        """
        self._recovered_slaves_call = None
        if self._removal_limit_exceeded():
            return
        now = self.reactor.seconds()
        missing, self.recovered_slaves = self.recovered_slaves, {}
        for slave_id, info in missing.items():
            reason = (f"did not re-register within {self.slave_reregister_timeout:g}s after "
                      f"the master failed over")
            self.log.warn("Marking slave {slave_id} ({hostname}) unreachable: it {reason}",
                          slave_id=slave_id, hostname=info.hostname, reason=reason)
            # Mesos's counts for this case.
            for name in ("recovery_slave_removals", "slave_removals",
                         "slave_removals/reason_unhealthy", "slave_unreachable_scheduled"):
                self.counters.count(name)
            self.unreachable_slaves[slave_id] = now
            # Not in our state: a record only to carry its id to the
            # registry.  Marked unreachable, as Mesos does: if it comes
            # back it is admitted again, with its tasks.
            slave = SlaveRecord(slave_id, info, None, now, Resources())
            self._record_removal(slave, reason, [], shutdown=False, unreachable=now)

    def _removal_limit_exceeded(self):
        """
        Whether more of the slaves the registry listed are missing than
        C{recovery_removal_limit} allows (Mesos's post-recovery removal
        limit): then none is marked, and this master gives up leading, by
        C{on_removal_limit(reason)} (C{twistd mesos-master} exits) or, if
        it has none, by stopping this term.
        """
        share = len(self.recovered_slaves) / self.recovery_progress.expected
        if share <= self.recovery_removal_limit:
            return False
        reason = (f"post-recovery slave removal limit exceeded: after "
                  f"{self.slave_reregister_timeout:g}s there were {len(self.recovered_slaves)} "
                  f"({share * 100:g}%) slaves recovered from the registry that did not "
                  f"re-register: {', '.join(sorted(self.recovered_slaves))}; the configured "
                  f"removal limit is {self.recovery_removal_limit * 100:g}%; investigate or "
                  f"increase --recovery_agent_removal_limit to proceed")
        self.log.critical("{reason}", reason=reason)
        if self.on_removal_limit is not None:
            self.on_removal_limit(reason)
        else:
            self.stop()
        return True

    def recovered_slave_pending(self, slave_id):
        """
        Whether a task on slave C{slave_id} (or on any slave, if C{""})
        may still be reported by a slave the registry listed that has not
        re-registered yet: then a reconciliation waits for it.
        """
        if slave_id:
            return slave_id in self.recovered_slaves
        return bool(self.recovered_slaves)

    def _new_slave_id(self, sender):
        """
        The id for a new slave registering from C{sender}: the one its last
        registration was given if that one's admission failed (a write
        whose answer was lost may have been stored all the same: a new id
        would leave the registry listing a slave that never existed, which
        every later leader would wait for), else a new one.
        """
        slave_id = self._unsettled_admissions.pop(sender, None)
        return slave_id if slave_id is not None else self._new_id("slave", "S")

    def _admit(self, sender, info, admitted, new=False):
        """
        Record the slave C{info} as admitted, then call C{admitted()}.
        While the write is in flight, registrations from C{sender} are
        ignored (it retries); if it fails the slave is not answered, and
        for a C{new} slave its id is kept for its next registration.
        """
        if sender in self._admitting:
            self.log.debug("Ignoring a registration of {pid}: its admission is being recorded",
                           pid=str(sender))
            return
        self._admitting.add(sender)

        def written(_):
            self._admitting.discard(sender)
            if not self._stopped:
                admitted()

        def failed(failure):
            self._admitting.discard(sender)
            if new:
                unsettled = self._unsettled_admissions
                unsettled[sender] = info.id.value
                if len(unsettled) > MAX_UNSETTLED_ADMISSIONS:
                    # Senders that never came back: forget the oldest.
                    del unsettled[next(iter(unsettled))]
            if not self._stopped:
                self.log.error("Cannot record the admission of slave {slave_id} at {pid} in the "
                               "registry: {error}; it is not answered, and retries",
                               slave_id=info.id.value, pid=str(sender),
                               error=failure.getErrorMessage())

        d = self.registry.admit(info)
        d.addCallbacks(written, failed)
        d.addErrback(lambda failure: self.log.failure(
            "Failed to admit slave {slave_id}", failure, slave_id=info.id.value))

    def _record_removal(self, slave, reason, updates, shutdown, unreachable=None,
                        tell_lost=True):
        """
        Write the removal of C{slave} (already out of our state) to the
        registry, or, if it was found C{unreachable} (at that time), that it
        is unreachable; once it is written, report it: C{updates} (its
        tasks' C{TASK_LOST}...) to their frameworks, C{slaveLost} to every
        framework (if C{tell_lost}), and, if C{shutdown},
        C{ShutdownMessage} to the slave.
        """
        removal = PendingRemoval(slave, reason, updates, shutdown, unreachable, tell_lost)
        self._removing[slave.id] = removal
        self._write_removal(removal, 0)

    def _write_removal(self, removal, attempt):
        if removal.unreachable is not None:
            d = self.registry.mark_unreachable(removal.slave.id, removal.unreachable)
        else:
            d = self.registry.add(removal.slave.id)
        d.addCallbacks(self._removal_recorded, self._removal_not_recorded,
                       callbackArgs=(removal,), errbackArgs=(removal, attempt))
        d.addErrback(lambda failure: self.log.failure(
            "Failed to complete the removal of slave {slave_id}", failure,
            slave_id=removal.slave.id))

    def _removal_recorded(self, ignored, removal):
        slave = removal.slave
        if self._stopped:
            self.log.warn(
                "The removal of slave {slave_id} (or its unreachability) was recorded after "
                "the term ended: the next leader reads it, and frameworks learn of its {count} "
                "tasks only by reconciling", slave_id=slave.id, count=len(removal.updates))
            return
        del self._removing[slave.id]
        if removal.unreachable is None:
            self.removed_slaves.add(slave.id)
            self.log.info("Recorded the removal of slave {slave_id}; reporting its {count} "
                          "tasks lost", slave_id=slave.id, count=len(removal.updates))
        else:
            self.counters.count("slave_unreachable_completed")
            self.log.info("Recorded slave {slave_id} as unreachable; reporting its {count} "
                          "tasks unreachable or lost", slave_id=slave.id,
                          count=len(removal.updates))
        if removal.shutdown:
            self.node.send(slave.pid, internal.ShutdownMessage(
                message=f"the master removed this slave: {removal.reason}"))
        self._report_removal(slave, removal.updates, removal.tell_lost)
        for sender, message in removal.waiting:
            self._reregister_slave(sender, message)

    def _report_removal(self, slave, updates, tell_lost=True):
        """
        Tell the frameworks of C{slave}'s tasks their C{updates}, and (if
        C{tell_lost}) every framework that the slave is lost.
        """
        for framework_id, update in updates:
            framework = self.frameworks.get(framework_id)
            if framework is not None and framework.active:
                self._send_update(framework.pid, update)
        if not tell_lost:
            return
        lost = internal.LostSlaveMessage(slave_id=mesos_pb2.SlaveID(value=slave.id))
        for framework in self.frameworks.values():
            if framework.active:
                self.node.send(framework.pid, lost)

    def _removal_not_recorded(self, failure, removal, attempt):
        if self._stopped:
            return
        delay = self._retry_later(attempt, self._write_removal, removal, attempt + 1)
        self.log.error(
            "Cannot record the removal of slave {slave_id} in the registry: {error}; retrying "
            "in {delay}s.  Until it is recorded its {count} tasks are not reported lost and it "
            "cannot re-register", slave_id=removal.slave.id, error=failure.getErrorMessage(),
            delay=delay, count=len(removal.updates))

    def _abandon_removals(self):
        """
        The term ends: say which removals were never recorded.
        """
        for removal in self._removing.values():
            self.log.warn(
                "The term ended before the removal of slave {slave_id} ({reason}) was recorded: "
                "its {count} tasks were not reported lost, and unless the write in flight "
                "completes the next leader accepts the slave if it re-registers",
                slave_id=removal.slave.id, reason=removal.reason, count=len(removal.updates))
        self._removing.clear()

    def _removal_pending(self, framework_id, task_id):
        """
        Whether the task is on a slave whose removal is being recorded.
        """
        return any(owner == framework_id and update.status.task_id.value == task_id
                   for removal in self._removing.values() for owner, update in removal.updates)
