"""
Partition awareness (Mesos 1.x): what frameworks hear about tasks on slaves
that stop answering or go away, by their C{PARTITION_AWARE} capability.
Mixed into L{mesos_tw.master.master.Master}, whose state it uses.

  - A slave that misses too many pings is I{unreachable}: it is removed
    (recorded in the registry, then told to shut down, so a task reported
    lost never runs again; Mesos 1.x would admit it back).  Its tasks
    become C{TASK_UNREACHABLE} for partition-aware frameworks (kept as
    their C{unreachable_tasks}) and C{TASK_LOST} for the others; every
    framework hears C{slaveLost}.
  - A slave that unregistered has its tasks C{TASK_GONE} for
    partition-aware frameworks, C{TASK_LOST} for the others.
  - Launches on invalid offers are C{TASK_DROPPED}, and reconciliation of
    a task the master does not know is C{TASK_GONE} (its slave is
    registered), C{TASK_UNREACHABLE} (its slave is unreachable) or
    C{TASK_UNKNOWN}, for partition-aware frameworks; C{TASK_LOST} for the
    others.
"""

from mesos_tw.protocols import mesos_pb2

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

    def removed_task_state(self, framework_id, unreachable):
        """
        The state a task of C{framework_id} on a slave the master drops
        goes to: C{TASK_UNREACHABLE} (the slave stopped answering) or
        C{TASK_GONE} (removed) for partition-aware frameworks, C{TASK_LOST}
        for the others.
        """
        if not self._is_partition_aware(framework_id):
            return mesos_pb2.TASK_LOST
        return mesos_pb2.TASK_UNREACHABLE if unreachable else mesos_pb2.TASK_GONE

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
        for (framework_id, task_id), record in slave.tasks.items():
            if record.state != mesos_pb2.TASK_UNREACHABLE:
                continue
            framework = self.frameworks.get(framework_id)
            if framework is not None and framework.tasks.pop(task_id, None) is not None:
                framework.unreachable_tasks[task_id] = record
