"""
Partition awareness (Mesos 1.x): what frameworks hear about tasks on slaves
that stop answering or go away, by their C{PARTITION_AWARE} capability.
Mixed into L{mesos_tw.master.master.Master}, whose state it uses.

  - A slave that misses too many pings is I{unreachable}: it leaves the
    master's state and is recorded as unreachable in the registry (not as
    removed, and it is not told to shut down).  Its tasks become
    C{TASK_UNREACHABLE} for partition-aware frameworks and C{TASK_LOST}
    for the others (kept as their C{unreachable_tasks}, or completed
    tasks); every framework hears C{slaveLost}.
  - An unreachable slave that re-registers (with this leader or, read
    from the registry, a later one) is re-admitted with the tasks it
    reports, as Mesos 1.5 and later do: each task's framework, partition-
    aware or not, hears the task's state again (C{TASK_RUNNING}...) with
    the reason C{REASON_SLAVE_REREGISTERED}.  So a framework without the
    capability can see C{TASK_LOST} and then C{TASK_RUNNING}, as on Mesos
    (its "non-strict" behaviour).
  - A slave removed otherwise has its tasks C{TASK_LOST}, except that
    partition-aware frameworks hear C{TASK_GONE_BY_OPERATOR} when an
    operator marked it gone (Mesos's C{__removeSlave}).
  - Launches on invalid offers are C{TASK_DROPPED}, and reconciliation of
    a task the master does not know is C{TASK_GONE} (its slave is
    registered), C{TASK_UNREACHABLE} (its slave is unreachable) or
    C{TASK_UNKNOWN}, for partition-aware frameworks; C{TASK_LOST} for the
    others.
"""

from mesos_tw.master.state import SlaveRecord
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources

__all__ = ["PartitionManagement"]

Capability = mesos_pb2.FrameworkInfo.Capability
Reason = mesos_pb2.TaskStatus


def partition_aware(info):
    """
    Whether a C{FrameworkInfo} has the C{PARTITION_AWARE} capability.
    """
    return any(c.type == Capability.PARTITION_AWARE for c in info.capabilities)


class PartitionManagement:
    """
    Unreachable slaves and the task states partition-aware frameworks get,
    for the L{Master}.
    """

    def _is_partition_aware(self, framework_id):
        framework = self.frameworks.get(framework_id)
        return framework is not None and partition_aware(framework.info)

    def removed_task_state(self, framework_id, unreachable=False, gone=False):
        """
        The state, and reason, a task of C{framework_id} on a slave the
        master drops goes to, as Mesos's C{__removeSlave}: for a
        partition-aware framework C{TASK_UNREACHABLE} if the slave stopped
        answering, C{TASK_GONE_BY_OPERATOR} if an operator marked it
        C{gone}; otherwise (and for frameworks without the capability)
        C{TASK_LOST}.

        @return: C{(TaskState, TaskStatus.Reason)}.
        """
        if self._is_partition_aware(framework_id):
            if unreachable:
                return mesos_pb2.TASK_UNREACHABLE, Reason.REASON_SLAVE_REMOVED
            if gone:
                return mesos_pb2.TASK_GONE_BY_OPERATOR, Reason.REASON_SLAVE_REMOVED_BY_OPERATOR
        return mesos_pb2.TASK_LOST, Reason.REASON_SLAVE_REMOVED

    def gone_task_state(self, framework_id):
        """
        The state of a task the master knows on a slave that, re-registering,
        no longer reports it: C{TASK_GONE} for a partition-aware framework,
        C{TASK_LOST} for the others.
        """
        if self._is_partition_aware(framework_id):
            return mesos_pb2.TASK_GONE
        return mesos_pb2.TASK_LOST

    def dropped_task_state(self, framework_id):
        """
        The state of a task whose launch used invalid offers.
        """
        if self._is_partition_aware(framework_id):
            return mesos_pb2.TASK_DROPPED
        return mesos_pb2.TASK_LOST

    def unknown_task_state(self, framework_id, slave_id):
        """
        What the master answers for a task it does not know (reconciliation,
        a kill), on slave C{slave_id} (or C{""}): Mesos's cases (3), (4)
        and (6).

        @return: C{(state, message)}.
        """
        if slave_id in self.unreachable_slaves:
            state, text = mesos_pb2.TASK_UNREACHABLE, "Task is unreachable"
        elif slave_id in self.slaves:
            state, text = mesos_pb2.TASK_GONE, "Task is unknown to the slave"
        else:
            state, text = mesos_pb2.TASK_UNKNOWN, "Task is unknown to the master"
        if not self._is_partition_aware(framework_id):
            state = mesos_pb2.TASK_LOST
        return state, text

    def _set_aside_unreachable(self, slave):
        """
        C{slave} was found unreachable and has left the master's state:
        remember when, and keep its unreachable tasks as their frameworks'
        C{unreachable_tasks} (they no longer hold resources).
        """
        self.unreachable_slaves[slave.id] = self.reactor.seconds()
        lost = []
        for (framework_id, task_id), record in slave.tasks.items():
            if record.state == mesos_pb2.TASK_LOST:
                # A framework without the capability heard TASK_LOST (its
                # record is completed): kept, as Mesos keeps its
                # unreachable tasks, to tell it again if the slave is
                # marked gone (L{mark_absent_gone}).
                lost.append(record)
                continue
            if record.state != mesos_pb2.TASK_UNREACHABLE:
                continue
            framework = self.frameworks.get(framework_id)
            if framework is not None and framework.tasks.pop(task_id, None) is not None:
                framework.unreachable_tasks[task_id] = record
        if lost:
            self.unreachable_lost[slave.id] = lost

    def mark_absent_gone(self, slave_id):
        """
        An operator marked gone slave C{slave_id}, which is unreachable or
        which an earlier leader admitted and has not re-registered yet
        (Mesos's C{markGone} for an agent not registered): it is recorded
        as removed, no longer unreachable or expected, and so told to shut
        down if it re-registers.  Once that is written, the frameworks of
        the tasks an unreachable one had (as far as this master knows them)
        hear of them again, as in Mesos: C{TASK_GONE_BY_OPERATOR}
        (C{REASON_SLAVE_REMOVED_BY_OPERATOR}) for a framework that is
        partition-aware now, C{TASK_LOST} (C{REASON_SLAVE_REMOVED}, with no
        C{unreachable_time} now) for the others, whatever they heard when
        it became unreachable.  No C{slaveLost}: they heard it then.
        """
        text = "Agent has been marked gone"
        info = self.recovered_slaves.pop(slave_id, None)
        if info is not None:
            self.recovery_progress.slave_gone()
            if not self.recovered_slaves:
                self._stop_waiting_for_recovered()
        self.unreachable_slaves.pop(slave_id, None)
        updates = []
        for framework_id, framework in self.frameworks.items():
            for task_id, record in list(framework.unreachable_tasks.items()):
                if record.task.slave_id.value == slave_id:
                    # Back among its tasks for a moment, so that ending it
                    # moves it to the completed ones.
                    framework.tasks[task_id] = framework.unreachable_tasks.pop(task_id)
                    state, reason = self.removed_task_state(framework_id, gone=True)
                    updates.append((framework_id, self._apply_master_update(
                        framework_id, record, state, text, reason)))
        for record in self.unreachable_lost.pop(slave_id, ()):
            framework_id = record.task.framework_id.value
            state, reason = self.removed_task_state(framework_id, gone=True)
            updates.append((framework_id, self._status_update_for(
                framework_id, record.task, state, text, reason)))
        self.log.info("Marking slave {slave_id} gone: it is not registered; {count} of its tasks "
                      "are reported once that is recorded", slave_id=slave_id,
                      count=len(updates))
        if info is None:
            info = mesos_pb2.SlaveInfo(id=mesos_pb2.SlaveID(value=slave_id))
        self._record_removal(SlaveRecord(slave_id, info, None, self.reactor.seconds(),
                                         Resources()),
                             "an operator marked it gone", updates, shutdown=False,
                             tell_lost=False)

    def readmitted(self, slave_id, tasks):
        """
        Unreachable slave C{slave_id} re-registered and was added again
        with the C{tasks} it reports (as Mesos's C{__reregisterSlave}):
        they are no longer unreachable (nor completed, for a framework told
        C{TASK_LOST}), each connected framework hears each of its tasks'
        state again, and the registry forgets the slave was unreachable.
        Tasks the master set aside that the slave no longer reports are
        forgotten: the slave reports their ends itself, as status updates.
        """
        del self.unreachable_slaves[slave_id]
        self.unreachable_lost.pop(slave_id, None)
        for framework in self.frameworks.values():
            for task_id, record in list(framework.unreachable_tasks.items()):
                if record.task.slave_id.value == slave_id:
                    del framework.unreachable_tasks[task_id]
        for task in tasks:
            framework_id, task_id = task.framework_id.value, task.task_id.value
            framework = self.frameworks.get(framework_id)
            if framework is None or not framework.active:
                self.log.warn("Not telling framework {framework_id} that its task {task_id} "
                              "is {state} again on re-registered slave {slave_id}: it is not "
                              "connected (it learns by reconciling)",
                              framework_id=framework_id, task_id=task_id, slave_id=slave_id,
                              state=mesos_pb2.TaskState.Name(task.state))
                if framework is None:
                    continue
            _forget_completed(framework, task_id, slave_id)
            if not framework.active:
                continue
            if task.HasField("status_update_state"):
                # Its latest update is still on its way from the slave, which
                # sends it again now that it is back: the framework hears it
                # from there, once (Mesos tells it here as well, a duplicate).
                continue
            update = self._status_update_for(
                framework_id, task, task.state, "Unreachable agent re-reregistered",
                Reason.REASON_SLAVE_REREGISTERED)
            self._send_update(framework.pid, update)
        self.log.info("Re-admitted unreachable slave {slave_id} with {count} tasks",
                      slave_id=slave_id, count=len(tasks))
        d = self.registry.mark_reachable(slave_id)
        d.addErrback(lambda failure: self.log.error(
            "Cannot record that slave {slave_id} is reachable again: {error}; a later leader "
            "will take it for unreachable and tell its frameworks of its tasks again when it "
            "re-registers", slave_id=slave_id, error=failure.getErrorMessage()))


def _forget_completed(framework, task_id, slave_id):
    """
    Take task C{task_id} of C{slave_id} out of C{framework}'s completed
    tasks (it was reported C{TASK_LOST} and runs again).
    """
    kept = [record for record in framework.completed_tasks
            if (record.task.task_id.value, record.task.slave_id.value) != (task_id, slave_id)]
    if len(kept) != len(framework.completed_tasks):
        framework.completed_tasks.clear()
        framework.completed_tasks.extend(kept)
