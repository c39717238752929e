"""
The messages about running tasks and executors that the master passes on
or answers: kills, executor shutdowns and exits, framework messages both
ways, and task reconciliation (C{docs/flows.md}).  Mixed into
L{mesos_tw.master.master.Master}, whose state it uses.
"""

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources

__all__ = ["TaskMessages"]

Reason = mesos_pb2.TaskStatus


class TaskMessages:
    """
    The master's handlers of kills, executor shutdowns and exits, framework
    messages and reconciliation.
    """

    def _kill_task(self, sender, message):
        framework = self._framework_from(sender, message.framework_id.value)
        if framework is None:
            return
        record = framework.tasks.get(message.task_id.value)
        slave = self.slaves.get(record.task.slave_id.value) if record is not None else None
        if slave is None:
            record = framework.unreachable_tasks.get(message.task_id.value)
            slave_id = record.task.slave_id.value if record is not None else ""
            task = mesos_pb2.TaskInfo(name="", task_id=message.task_id,
                                      slave_id=mesos_pb2.SlaveID(value=slave_id))
            state, why = self.unknown_task_state(framework.id, slave_id)
            self._send_update(framework.pid, self._status_update_for(
                framework.id, task, state,
                f"Cannot kill task {message.task_id.value}: {why[0].lower()}{why[1:]}",
                Reason.REASON_TASK_UNKNOWN))
            return
        self.node.send(slave.pid, message)

    def _shutdown_executor(self, sender, message):
        """
        A framework asks for one of its executors to be shut down (the v1
        SHUTDOWN call): the slave is told; what ends comes back as updates
        and an executor exit.  Best effort, as in Mesos: a slave or executor
        the master does not know is logged and left.
        """
        framework = self._framework_from(sender, message.framework_id.value)
        if framework is None:
            return
        executor_id = message.executor_id.value
        slave = self.slaves.get(message.slave_id.value)
        if slave is None or executor_id not in slave.executors.get(framework.id, {}):
            self.log.warn("Not shutting down executor {executor_id} of framework {framework_id}"
                          " on slave {slave_id}: the master does not know it there",
                          executor_id=executor_id, framework_id=framework.id,
                          slave_id=message.slave_id.value)
            return
        self.log.info("Shutting down executor {executor_id} of framework {framework_id} on "
                      "slave {slave_id}, as the framework asks", executor_id=executor_id,
                      framework_id=framework.id, slave_id=slave.id)
        self.node.send(slave.pid, internal.ShutdownExecutorMessage(
            executor_id=message.executor_id, framework_id=message.framework_id))

    def _exited_executor(self, sender, message):
        slave = self.slaves.get(message.slave_id.value)
        if slave is None or slave.pid != sender:
            return
        framework_id, executor_id = message.framework_id.value, message.executor_id.value
        self._forget_executor(slave, framework_id, executor_id)
        framework = self.frameworks.get(framework_id)
        if framework is not None and framework.active:
            self.node.send(framework.pid, message)

    def _forget_executor(self, slave, framework_id, executor_id):
        """
        An executor on C{slave} has ended: what it held is recovered.
        """
        info = slave.executors.get(framework_id, {}).pop(executor_id, None)
        framework = self.frameworks.get(framework_id)
        if framework is not None:
            framework.executors.get(slave.id, {}).pop(executor_id, None)
        if info is not None:
            self.allocator.resources_recovered(
                framework_id, slave.id, Resources.from_protobuf(info.resources), 0)
            self.allocate_soon()

    def _framework_to_executor(self, sender, message):
        framework = self._framework_from(sender, message.framework_id.value)
        slave = self.slaves.get(message.slave_id.value)
        if framework is None or slave is None:
            self.counters.count("invalid_framework_to_executor_messages")
        if framework is None:
            return
        if slave is None:
            self.log.warn("Dropping framework message for unknown slave {slave_id}",
                          slave_id=message.slave_id.value)
            return
        self.counters.count("valid_framework_to_executor_messages")
        self.node.send(slave.pid, message)

    def _executor_to_framework(self, sender, message):
        framework = self.frameworks.get(message.framework_id.value)
        if framework is None or not framework.active:
            self.counters.count("invalid_executor_to_framework_messages")
            self.log.info("Dropping executor message for framework {framework_id}: not connected",
                          framework_id=message.framework_id.value)
            return
        self.counters.count("valid_executor_to_framework_messages")
        self.node.send(framework.pid, message)

    def _reconcile_tasks(self, sender, message):
        framework = self._framework_from(sender, message.framework_id.value)
        if framework is None:
            return
        if message.statuses:
            wanted = [(s.task_id.value, framework.tasks.get(s.task_id.value)
                       or framework.unreachable_tasks.get(s.task_id.value), s)
                      for s in message.statuses]
        else:
            wanted = [(task_id, record, None) for task_id, record in framework.tasks.items()]
        for task_id, record, asked in wanted:
            if record is None and self._removal_pending(framework.id, task_id):
                # Answering TASK_LOST now would report the loss before the
                # removal is recorded.
                self.log.info("Not reconciling task {task_id} of framework {framework_id} yet: "
                              "its slave's removal is being recorded, and its TASK_LOST "
                              "follows once it is", task_id=task_id, framework_id=framework.id)
                continue
            if record is None and self.recovered_slave_pending(
                    asked.slave_id.value if asked.HasField("slave_id") else ""):
                # Mesos's case (2): the slave may still bring the task when
                # it re-registers; no answer until it does or is removed.
                self.log.info("Not reconciling task {task_id} of framework {framework_id} yet: "
                              "its slave has not re-registered since the master failed over",
                              task_id=task_id, framework_id=framework.id)
                continue
            if record is None:
                task = mesos_pb2.TaskInfo(name="", task_id=mesos_pb2.TaskID(value=task_id),
                                          slave_id=asked.slave_id if asked.HasField("slave_id")
                                          else mesos_pb2.SlaveID(value=""))
                state, text = self.unknown_task_state(framework.id, task.slave_id.value)
                update = self._status_update_for(framework.id, task, state, text,
                                                 Reason.REASON_RECONCILIATION)
            else:
                update = self._status_update_for(
                    framework.id, record.task, record.state,
                    "Reconciliation: latest task state", Reason.REASON_RECONCILIATION)
            self._send_update(framework.pid, update)
