"""
The master's handling of slaves: registration, re-registration after a
master or network failure, health, and removal.  Mixed into
L{mesos_tw.master.master.Master}, whose state it uses.  A removal is
reported once it is recorded in the registry (L{mesos_tw.master._registrar}).
"""

import hashlib
from functools import partial

from mesos_tw.master.state import TERMINAL_STATES, SlaveRecord, TaskRecord, executor_key
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources, ResourcesError

__all__ = ["SlaveManagement"]


class SlaveManagement:
    """
    Slave registration, health and removal, for the L{Master}.
    """

    def _register_slave(self, sender, message):
        existing = self._slaves_by_pid.get(sender)
        if existing is not None:
            self.node.send(sender, internal.SlaveRegisteredMessage(
                slave_id=mesos_pb2.SlaveID(value=existing), connection=self._connection()))
            return
        if self._refused_for_maintenance(sender, message.slave):
            return
        total = self._slave_total(sender, message.slave)
        if total is None or sender in self._admitting:
            return
        slave_id = self._new_slave_id(sender)
        info = mesos_pb2.SlaveInfo()
        info.CopyFrom(message.slave)
        info.id.value = slave_id

        def admitted():
            if sender in self._slaves_by_pid:
                return
            self._add_slave(slave_id, message.slave, sender, total)
            self.counters.count("slave_registrations")
            self.node.send(sender, internal.SlaveRegisteredMessage(
                slave_id=mesos_pb2.SlaveID(value=slave_id), connection=self._connection()))
            self.allocate_soon()

        self._admit(sender, info, admitted, new=True)

    def _reregister_slave(self, sender, message):
        slave_id = message.slave_id.value
        if self._repeated_reregistration(sender, slave_id, message):
            return
        if self._refused_as_removed(sender, slave_id, message):
            return
        error, parsed = _reported_work(message)
        if error is not None:
            self.log.warn("Dropping re-registration of slave {slave_id} at {pid} because it sent "
                          "an invalid re-registration: {error}", slave_id=slave_id,
                          pid=str(sender), error=error)
            return
        info = message.slave
        if self._refused_for_maintenance(sender, info):
            return
        slave = self.slaves.get(slave_id)
        if slave is not None:
            reconciliations = self._reconnect_slave(slave, sender, message)
            self._reregistered(sender, slave_id, message, reconciliations)
            return
        total = self._slave_total(sender, info)
        if total is None:
            return
        if slave_id in self.recovered_slaves:
            # An earlier leader admitted it: the registry has it already.
            # Nothing has changed since the checks above.
            self._readmit(sender, slave_id, message, total, parsed, expected=True)
            if not self.recovered_slaves:
                self._stop_waiting_for_recovered()
            return

        def admitted():
            if slave_id in self.slaves:
                # Re-registered meanwhile (from another address).
                return
            if self._refused_as_removed(sender, slave_id, message):
                # Marked gone while its admission was being written (Mesos's
                # _reregisterSlave checks the same).
                return
            self._readmit(sender, slave_id, message, total, parsed)

        stored = mesos_pb2.SlaveInfo()
        stored.CopyFrom(info)
        stored.id.value = slave_id
        self._admit(sender, stored, admitted)

    def _readmit(self, sender, slave_id, message, total, parsed, expected=False):
        """
        Add slave C{slave_id}, admitted in the registry, as its
        re-registration C{message} reports it (C{total} and C{parsed} read
        from it), and answer it.

        @param expected: whether it is one a new leader expected back (an
            earlier leader admitted it).
        """
        self.recovered_slaves.pop(slave_id, None)
        self._add_slave(slave_id, message.slave, sender, total, message.executor_infos,
                        message.tasks, logged=not expected, parsed=parsed)
        if expected:
            self.recovery_progress.slave_back()
        if slave_id in self.unreachable_slaves:
            self.readmitted(slave_id, message.tasks)
        self._reregistered(sender, slave_id, message)

    def _refused_as_removed(self, sender, slave_id, message):
        """
        Whether slave C{slave_id}'s re-registration was handled as one of a
        slave being removed (answered once the removal is recorded) or
        removed (told to shut down).
        """
        removal = self._removing.get(slave_id)
        if removal is not None:
            self.log.info("Slave {slave_id} at {pid} re-registers while its removal is being "
                          "recorded; it is answered once the removal is recorded",
                          slave_id=slave_id, pid=str(sender))
            removal.waiting.append((sender, message))
            return True
        if slave_id in self.removed_slaves:
            self.log.warn(
                "Slave {slave_id} at {pid} tried to re-register after removal; shutting it down",
                slave_id=slave_id, pid=str(sender),
            )
            self.node.send(sender, internal.ShutdownMessage(
                message="slave was removed; its tasks were reported lost"))
            return True
        return False

    def _reregistered(self, sender, slave_id, message, reconciliations=()):
        """
        Answer slave C{slave_id}'s re-registration C{message}, asking about
        C{reconciliations} (see L{_reconcile_slave}); the answer is kept for
        a repeat of it.
        """
        self.counters.count("slave_reregistrations")
        # Kept to answer a repeat: its digest, and what was asked (rarely
        # anything: a slave's whole answer is rebuilt from it).
        self._reregistration_answers[slave_id] = (_digest(message), tuple(reconciliations))
        self.node.send(sender, self._reregistered_answer(slave_id, reconciliations))
        self.allocate_soon()

    def _repeated_reregistration(self, sender, slave_id, message):
        """
        Answer again, and only answer, a re-registration that repeats the
        last one handled for this slave (same connected pid, same bytes):
        the slave retried before our answer reached it.  What it reports
        was reconciled when first handled, and is older than anything we
        did since, so handling it again would only cost (after a failover,
        thousands of slaves retry while the new leader works through the
        first attempts) or undo what came after.  Mesos handles it again.
        """
        last = self._reregistration_answers.get(slave_id)
        if last is None:
            return False
        slave = self.slaves.get(slave_id)
        if slave is None or (slave.pid is not sender and slave.pid != sender) \
                or not slave.connected or last[0] != _digest(message):
            return False
        if self.recovery_progress is not None:
            self.recovery_progress.repeat_answered()
        else:
            self.log.debug("Slave {slave_id} at {pid} repeated its re-registration; answering "
                           "it again", slave_id=slave_id, pid=str(sender))
        self.counters.count("slave_reregistrations")
        self.node.send(sender, self._reregistered_answer(slave_id, last[1]))
        return True

    def _reregistered_answer(self, slave_id, reconciliations):
        """
        The C{SlaveReregisteredMessage} answering slave C{slave_id}, asking
        about C{reconciliations}.  Copied from one made once with what every
        slave is told (L{_connection}): a new leader answers thousands a
        second, and building the nested message each time cost as much as
        the rest of the answer (parsing the bytes of the one made once is
        cheaper still than copying it).
        """
        template = self._reregistered_template
        if template is None:
            template = self._reregistered_template = internal.SlaveReregisteredMessage(
                connection=self._connection()).SerializePartialToString()
        answer = internal.SlaveReregisteredMessage.FromString(template)
        answer.slave_id.value = slave_id
        if reconciliations:
            answer.reconciliations.extend(reconciliations)
        return answer

    def _connection(self):
        """
        What a slave is told of its pings: after how long without one it
        should register again (it was found unreachable).
        """
        return internal.MasterSlaveConnection(
            total_ping_timeout_seconds=self.slave_ping_timeout * self.max_slave_ping_timeouts)

    def _reconnect_slave(self, slave, sender, message):
        """
        A slave we know re-registers (after its connection broke, or after
        it restarted): it is connected again at C{sender}, offered again,
        and what it reports is reconciled with what we know.
        """
        if slave.pid != sender:
            self._slaves_by_pid.pop(slave.pid, None)
            slave.pid = sender
            slave.observer.pid = sender
            self._slaves_by_pid[sender] = slave.id
        slave.reregistered_time = self.reactor.seconds()
        if not slave.connected:
            self.log.info("Disconnected slave {slave_id} re-registered from {pid}",
                          slave_id=slave.id, pid=str(sender))
            slave.connected = True
            if not slave.deactivated:
                self.allocator.slave_activated(slave.id)
        reconciliations = self._reconcile_slave(slave, message.executor_infos, message.tasks)
        self.draining.reconnected(slave)
        return reconciliations

    def _reconcile_slave(self, slave, executor_infos, tasks):
        """
        As Mesos's C{reconcileKnownSlave}: tasks and executors the slave
        reports that we do not know are added; executors it no longer has
        are forgotten (they ended while it was away) and what they held
        recovered.  Tasks we know that it did not report are reconciled
        through the slave (the C{ReconcileTasksMessage}s returned, for the
        C{SlaveReregisteredMessage}): a task launched while the slave's
        re-registration was on its way reaches the slave after the report,
        and only the slave can tell whether it has it; the slave answers
        C{TASK_LOST} (C{TASK_DROPPED}) for those it does not have, and until
        then they hold their resources.  (Reporting them lost at once, as
        before, let the simulator's slaves run tasks their frameworks had
        been told were lost, beside tasks given their resources.)

        @return: the C{ReconcileTasksMessage}s, one per framework.
        """
        reported = {(task.framework_id.value, task.task_id.value) for task in tasks}
        asked = {}
        for key, record in slave.tasks.items():
            if key in reported or record.state in TERMINAL_STATES:
                continue
            framework_id = key[0]
            reconcile = asked.get(framework_id)
            if reconcile is None:
                reconcile = asked[framework_id] = internal.ReconcileTasksMessage(
                    framework_id=mesos_pb2.FrameworkID(value=framework_id))
                framework = self.frameworks.get(framework_id)
                if framework is not None:
                    reconcile.framework.CopyFrom(framework.info)
            self.log.warn("Task {task_id} of framework {framework_id} unknown to slave "
                          "{slave_id} as it re-registers: reconciling with the slave",
                          task_id=key[1], framework_id=framework_id, slave_id=slave.id)
            reconcile.statuses.add(
                task_id=record.task.task_id, state=record.state,
                slave_id=mesos_pb2.SlaveID(value=slave.id),
                source=mesos_pb2.TaskStatus.SOURCE_MASTER, message="Reconciliation request",
                reason=mesos_pb2.TaskStatus.REASON_RECONCILIATION,
                timestamp=self.reactor.seconds())
        reported_executors = {(info.framework_id.value, info.executor_id.value)
                              for info in executor_infos}
        for framework_id, executors in list(slave.executors.items()):
            for executor_id in [e for e in executors
                                if (framework_id, e) not in reported_executors]:
                self._forget_executor(slave, framework_id, executor_id)
        known_executors = {(framework_id, executor_id)
                           for framework_id, executors in slave.executors.items()
                           for executor_id in executors}
        unknown_executors = [
            info for info in executor_infos
            if (info.framework_id.value, info.executor_id.value) not in known_executors]
        # An ended task (its terminal update on its way) adds nothing.
        unknown_tasks = [task for task in tasks
                         if (task.framework_id.value, task.task_id.value) not in slave.tasks
                         and task.state not in TERMINAL_STATES]
        if unknown_executors or unknown_tasks:
            # The allocator learns what the slave holds only when it is
            # added: add it again, with everything it now holds.  Its
            # outstanding offers are rescinded first: added again, the
            # slave's free resources would include them while they are
            # still offered (the simulator found a slave offered 1.25 cpus
            # of its 1, seed 20048 of "all").
            for offer in list(slave.offers.values()):
                self._remove_offer(offer, rescind=True)
            before = self._held_on(slave)
            for framework_id, resources in before.items():
                self.allocator.resources_recovered(framework_id, slave.id, resources, 0)
            self.allocator.slave_removed(slave.id)
            self._add_slave_work(slave, unknown_executors, unknown_tasks)
            self.allocator.slave_added(slave.id, slave.total, self._held_on(slave),
                                       hostname=slave.info.hostname)
        return list(asked.values())

    @staticmethod
    def _held_on(slave):
        """
        C{{framework_id: Resources}} that C{slave}'s tasks and executors hold.
        """
        held = {}
        for record in slave.tasks.values():
            framework_id = record.task.framework_id.value
            held[framework_id] = held.get(framework_id, Resources()) + record.resources
        for framework_id, executors in slave.executors.items():
            for info in executors.values():
                held[framework_id] = held.get(framework_id, Resources()) + \
                    Resources.from_protobuf(info.resources)
        return held

    def _add_slave_work(self, slave, executor_infos, tasks, parsed=None):
        """
        Record C{tasks} and C{executor_infos} a slave reports on
        (re-)registering, in the slave's and their frameworks' records; a
        task reported in a terminal state only among its framework's
        completed tasks.

        @param parsed: their resources as L{_reported_work} read them
            (C{(executor bags, task bags)}, in their order), or L{None} to
            read them here.
        @return: C{{framework_id: Resources}} they hold.
        """
        if parsed is None:
            parsed = ([Resources.from_protobuf(e.resources) for e in executor_infos],
                      [Resources.from_protobuf(t.resources) for t in tasks])
        executor_bags, task_bags = parsed
        now = self.reactor.seconds()
        used = {}
        for task, resources in zip(tasks, task_bags):
            # Each field read once (upb makes a wrapper per read).
            framework_id = task.framework_id.value
            state = task.state
            record = TaskRecord(task, resources, [(state, now)])
            if state in TERMINAL_STATES:
                # Ended, its terminal update on its way (as Mesos, it holds
                # nothing: its resources may already run another task).
                framework = self.frameworks.get(framework_id)
                if framework is not None:
                    record.pack()
                    framework.completed_tasks.append(record)
                continue
            task_id = task.task_id.value
            slave.tasks[(framework_id, task_id)] = record
            self._framework_on(framework_id, slave.id)
            held = used.get(framework_id)
            used[framework_id] = resources if held is None else held + resources
            framework = self.frameworks.get(framework_id)
            if framework is not None:
                framework.tasks[task_id] = record
            # As Mesos's Framework::addTask: subscribers learn of tasks
            # found on a re-registering slave as of tasks launched.
            self.events.task_added(record)
        for executor, resources in zip(executor_infos, executor_bags):
            framework_id = executor.framework_id.value
            slave.executors.setdefault(framework_id, {})[executor.executor_id.value] = executor
            self._framework_on(framework_id, slave.id)
            held = used.get(framework_id)
            used[framework_id] = resources if held is None else held + resources
            framework = self.frameworks.get(framework_id)
            if framework is not None:
                framework.executors.setdefault(slave.id, {})[executor.executor_id.value] = executor
        return used

    def _refused_for_maintenance(self, sender, info):
        """
        Whether a slave may not register because its machine is DOWN (it
        is told so, and to shut down).
        """
        refusal = self.maintenance.refusal(info, sender)
        if refusal is not None:
            self.log.warn("Refusing slave {pid}: {why}", pid=str(sender), why=refusal)
            self.node.send(sender, internal.ShutdownMessage(message=refusal))
        return refusal is not None

    def _slave_total(self, sender, info):
        """
        The resources a registering slave offers, or L{None} (and the slave
        told to shut down) when they do not parse.
        """
        try:
            return Resources.from_protobuf(info.resources)
        except ResourcesError as error:
            self.log.warn("Refusing slave {pid}: {error}", pid=str(sender), error=str(error))
            self.node.send(sender, internal.ShutdownMessage(message=f"invalid resources: {error}"))
            return None

    def _add_slave(self, slave_id, info, pid, total, executor_infos=(), tasks=(), logged=True,
                   parsed=None):
        """
        Add a slave admitted (or re-admitted) with the work it reports
        (C{parsed}: see L{_add_slave_work}); it is logged unless C{logged}
        is false (a slave a new leader expected back:
        L{mesos_tw.master.recovery_progress} counts those).
        """
        now = self.reactor.seconds()
        stored = mesos_pb2.SlaveInfo()
        stored.CopyFrom(info)
        stored.id.value = slave_id
        slave = SlaveRecord(slave_id, stored, pid, now, total)
        used = self._add_slave_work(slave, executor_infos, tasks, parsed)
        # (A partial of a bound method is two objects for the collector to
        # traverse, a closure over the slave three: a master keeps one per
        # slave.)
        slave.observer = self.health_checks.observe(pid, partial(self.shutdown_slave, slave))
        self.slaves[slave_id] = slave
        self._slaves_by_pid[pid] = slave_id
        self.allocator.slave_added(slave_id, total, used, hostname=info.hostname)
        slave.observer.start()
        self.events.agent_added(slave)
        if logged:
            self.log.info(
                "Registered slave {slave_id} at {pid} ({hostname}) with {resources}",
                slave_id=slave_id, pid=str(pid), hostname=info.hostname, resources=str(total),
            )

    def _unregister_slave(self, sender, message):
        slave = self.slaves.get(message.slave_id.value)
        if slave is not None and slave.pid == sender:
            self.counters.count("slave_removals/reason_unregistered")
            self.remove_slave(slave, "it unregistered")

    def _pong(self, sender, message):
        slave_id = self._slaves_by_pid.get(sender)
        if slave_id is not None:
            self.slaves[slave_id].observer.pong()

    def _executor_usage(self, sender, message):
        slave = self.slaves.get(message.slave_id.value)
        if slave is None or slave.pid != sender:
            self.log.debug("Ignoring executor usage from {sender}: not a registered slave",
                           sender=str(sender))
            return
        self.set_usage(slave, {(entry.framework_id.value, entry.executor_id.value): entry.statistics
                               for entry in message.executors})

    def set_usage(self, slave, usage):
        """
        Make C{usage} (C{{(framework_id, executor_id): ResourceStatistics}})
        all that is known of the usage of C{slave}'s executors: it shows on
        their tasks and, for executors the master knows, in their
        frameworks; executors not in it have none known.
        """
        framework_ids = {key[0] for key in slave.usage} | {key[0] for key in usage}
        slave.usage = usage
        for record in slave.tasks.values():
            record.statistics = usage.get(executor_key(record.task))
        for framework_id in framework_ids:
            self._framework_on(framework_id, slave.id)
            framework = self.frameworks.get(framework_id)
            if framework is None:
                continue
            known = {executor_id: statistics for (owner, executor_id), statistics in usage.items()
                     if owner == framework_id}
            if known:
                framework.executor_usage[slave.id] = known
            else:
                framework.executor_usage.pop(slave.id, None)

    def disconnect_slave(self, slave, reason):
        """
        C{slave}'s connection closed: it is kept, with its tasks and
        executors, but offered no more (its outstanding offers are
        rescinded) until it re-registers.  Its health checks go on: if it
        does not come back, they remove it.
        """
        if self.slaves.get(slave.id) is not slave or not slave.connected:
            return
        self.log.warn("Slave {slave_id} at {pid} disconnected ({reason}); keeping its {count} "
                      "tasks until it re-registers or its health checks fail",
                      slave_id=slave.id, pid=str(slave.pid), reason=reason,
                      count=len(slave.tasks))
        slave.connected = False
        for offer in list(slave.offers.values()):
            self._remove_offer(offer, rescind=True)
        self.allocator.slave_deactivated(slave.id)

    def shutdown_slave(self, slave, reason):
        """
        C{slave} stopped answering pings: it is unreachable
        (L{mesos_tw.master._partitions}).  It is not told to shut down: it
        may re-register, and is then admitted again with the tasks it still
        runs.
        """
        self.counters.count("slave_removals/reason_unhealthy")
        self.counters.count("slave_unreachable_scheduled")
        self.remove_slave(slave, reason, unreachable=True)

    def remove_slave(self, slave, reason, shutdown=False, gone=False, unreachable=False):
        """
        Remove C{slave}: it leaves our state and the allocator now, its
        offers are rescinded and its tasks end C{TASK_LOST} (partition-aware
        frameworks: C{TASK_GONE_BY_OPERATOR} if an operator marked it
        C{gone}).  Once the removal is recorded in the registry the tasks'
        frameworks hear of it, every framework hears C{slaveLost}, and, if
        C{shutdown}, the slave is told to shut down.

        @param unreachable: the slave stopped answering and may come back:
            it is recorded as unreachable rather than removed, and
            partition-aware frameworks hear C{TASK_UNREACHABLE}, the others
            C{TASK_LOST} (with the C{unreachable_time}).
        """
        if self.slaves.get(slave.id) is not slave:
            return
        self.log.warn("Removing slave {slave_id} at {pid}: {reason}",
                      slave_id=slave.id, pid=str(slave.pid), reason=reason)
        self.counters.count("slave_removals")
        slave.observer.stop()
        del self.slaves[slave.id]
        self._slaves_by_pid.pop(slave.pid, None)
        self._reregistration_answers.pop(slave.id, None)
        for framework_id in {key[0] for key in slave.tasks} | set(slave.executors) \
                | {key[0] for key in slave.usage}:
            self._framework_slaves.get(framework_id, set()).discard(slave.id)
        for offer in list(slave.offers.values()):
            self._remove_offer(offer, rescind=True)
        updates = []
        now = self.reactor.seconds()
        for record in list(slave.tasks.values()):
            if record.state not in TERMINAL_STATES:
                framework_id = record.task.framework_id.value
                state, why = self.removed_task_state(framework_id, unreachable, gone)
                update = self._apply_master_update(
                    framework_id, record, state, f"Slave {slave.id} removed: {reason}", why)
                if unreachable:
                    update.status.unreachable_time.nanoseconds = int(now * 1e9)
                updates.append((framework_id, update))
        # What the slave's tasks and executors held no longer counts towards
        # their frameworks' shares.
        for record in slave.tasks.values():
            self.allocator.resources_recovered(
                record.task.framework_id.value, slave.id, record.resources, 0)
        for framework_id, executors in slave.executors.items():
            for info in executors.values():
                self.allocator.resources_recovered(
                    framework_id, slave.id, Resources.from_protobuf(info.resources), 0)
        for framework in self.frameworks.values():
            framework.executors.pop(slave.id, None)
            framework.executor_usage.pop(slave.id, None)
        self.allocator.slave_removed(slave.id)
        self.events.agent_removed(slave.id)
        if unreachable:
            self._set_aside_unreachable(slave)
        self._record_removal(slave, reason, updates, shutdown,
                             unreachable=now if unreachable else None)


def _reported_work(message):
    """
    The resources of the executors and tasks a re-registering slave
    reports, read once: C{(None, (executor bags, task bags))}, or
    C{(what is wrong, None)} when some do not parse (found by fuzzing,
    they failed the handler half-way through).
    """
    read = Resources.from_protobuf
    try:
        executor_bags = [read(executor.resources) for executor in message.executor_infos]
    except ResourcesError as error:
        return f"executor with invalid resources: {error}", None
    try:
        task_bags = [read(task.resources) for task in message.tasks]
    except ResourcesError as error:
        return f"task with invalid resources: {error}", None
    return None, (executor_bags, task_bags)


def _digest(message):
    """
    A digest of a re-registration's bytes, to know a repeat of it.

    Serialized without C{deterministic}, which only orders map entries and
    doubles the cost: equal bytes still mean equal messages, and a repeat
    whose map entries came out in another order (not seen: both are parsed
    from the same bytes) would only be handled again, as Mesos handles
    every one.
    """
    return hashlib.blake2b(message.SerializeToString(), digest_size=16).digest()
