"""
Taking one slave out of service, as Mesos 1.9's operator calls do:
DEACTIVATE_AGENT (nothing on it is offered any more; what runs there goes
on), DRAIN_AGENT (deactivated, and every task on it killed: after the
optional C{max_grace_period} the executors still running are shut down;
once no task on it is left the slave is DRAINED, and, with
C{mark_gone}, gone), REACTIVATE_AGENT (offered again, draining or not),
and MARK_AGENT_GONE (removed for good: its tasks end
C{TASK_GONE_BY_OPERATOR}, C{TASK_LOST} for frameworks that are not
partition-aware; it is told to shut down and may not come back).
"""

from twisted.logger import Logger

from mesos_tw.master.state import TERMINAL_STATES
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.web.v1 import CallError

__all__ = ["Draining"]


class Draining:
    """
    The leading master's deactivated and draining slaves.  It listens to
    the master's events (a task's end may finish a drain).
    """

    log = Logger()

    def __init__(self, master):
        self.master = master
        self._grace_calls = {}
        master.events.subscribe(self)

    def _slave(self, slave_id):
        slave = self.master.slaves.get(slave_id)
        if slave is None:
            raise CallError(f"no agent {slave_id} is registered")
        return slave

    def deactivate(self, slave_id):
        """
        Offer nothing of the slave: outstanding offers are rescinded.

        @raise CallError: for a slave the master does not have.
        """
        slave = self._slave(slave_id)
        master = self.master
        if not slave.deactivated:
            slave.deactivated = True
            master.allocator.slave_deactivated(slave.id)
            self.log.info("Agent {slave_id} deactivated", slave_id=slave.id)
        for offer in list(slave.offers.values()):
            master._remove_offer(offer, rescind=True)
        return slave

    def reactivate(self, slave_id):
        """
        Offer the slave again (it stops draining, if it was).

        @raise CallError: for a slave the master does not have.
        """
        slave = self._slave(slave_id)
        self._cancel_grace(slave.id)
        slave.drain_info = None
        if slave.deactivated:
            slave.deactivated = False
            if slave.connected:
                self.master.allocator.slave_activated(slave.id)
            self.master.allocate_soon()
            self.log.info("Agent {slave_id} reactivated", slave_id=slave.id)

    def drain(self, slave_id, max_grace_period=None, mark_gone=False):
        """
        Deactivate the slave and kill its tasks; after C{max_grace_period}
        seconds (if given) shut down its executors that still run.

        @raise CallError: for a slave the master does not have.
        """
        slave = self.deactivate(slave_id)
        config = mesos_pb2.DrainConfig(mark_gone=mark_gone)
        if max_grace_period is not None:
            config.max_grace_period.nanoseconds = int(max_grace_period * 1e9)
        slave.drain_info = mesos_pb2.DrainInfo(state=mesos_pb2.DRAINING, config=config)
        self.log.info("Draining agent {slave_id} ({count} tasks)", slave_id=slave.id,
                      count=len(slave.tasks))
        self._kill_tasks(slave)
        self._cancel_grace(slave.id)
        if max_grace_period is not None:
            self._grace_calls[slave.id] = self.master.reactor.callLater(
                max_grace_period, self._grace_over, slave.id)
        self._check_drained(slave)

    def mark_gone(self, slave_id):
        """
        Remove the slave for good, as Mesos's C{MARK_AGENT_GONE}: a
        registered one's tasks end C{TASK_GONE_BY_OPERATOR} (C{TASK_LOST}
        for frameworks that are not partition-aware) and it is told to shut
        down; an unreachable one's tasks are told so too
        (L{mesos_tw.master._partitions.PartitionManagement.mark_absent_gone});
        one an earlier leader admitted that has not re-registered yet is
        only recorded.  Any of them that re-registers later is told to
        shut down.  A slave already removed is left as it is.

        @raise CallError: for a slave the master has not heard of, or one
            whose removal or unreachability is being recorded (Mesos
            answers 503 then: try again).
        """
        master = self.master
        if master.removal_pending(slave_id):
            raise CallError(f"agent {slave_id} is being removed or marked unreachable; try "
                            "again once that is recorded")
        if slave_id in master.removed_slaves:
            self.log.info("Agent {slave_id} was removed already", slave_id=slave_id)
            return
        slave = master.slaves.get(slave_id)
        if slave is None:
            if slave_id not in master.unreachable_slaves \
                    and slave_id not in master.recovered_slaves:
                raise CallError(f"no agent {slave_id} is registered, unreachable or expected "
                                "back")
            master.mark_absent_gone(slave_id)
            return
        self._cancel_grace(slave.id)
        master.remove_slave(slave, "an operator marked it gone", shutdown=True, gone=True)

    def reconnected(self, slave):
        """
        A disconnected slave is back: a drain goes on (its tasks are killed
        now that the kills can reach it).
        """
        if slave.drain_info is not None and slave.drain_info.state == mesos_pb2.DRAINING:
            self._kill_tasks(slave)
            self._check_drained(slave)

    def _kill_tasks(self, slave):
        if not slave.connected:
            return
        for (framework_id, task_id), record in slave.tasks.items():
            if record.state not in TERMINAL_STATES:
                self.master.node.send(slave.pid, internal.KillTaskMessage(
                    framework_id=mesos_pb2.FrameworkID(value=framework_id),
                    task_id=mesos_pb2.TaskID(value=task_id)))

    def _grace_over(self, slave_id):
        self._grace_calls.pop(slave_id, None)
        slave = self.master.slaves.get(slave_id)
        if slave is None or slave.drain_info is None or not slave.connected:
            return
        for framework_id, executors in slave.executors.items():
            for executor_id in executors:
                self.log.info("Agent {slave_id}'s grace period is over: shutting down executor "
                              "{executor_id}", slave_id=slave_id, executor_id=executor_id)
                self.master.node.send(slave.pid, internal.ShutdownExecutorMessage(
                    framework_id=mesos_pb2.FrameworkID(value=framework_id),
                    executor_id=mesos_pb2.ExecutorID(value=executor_id)))

    def _cancel_grace(self, slave_id):
        call = self._grace_calls.pop(slave_id, None)
        if call is not None and call.active():
            call.cancel()

    def _check_drained(self, slave):
        info = slave.drain_info
        if info is None or info.state != mesos_pb2.DRAINING:
            return
        if any(record.state not in TERMINAL_STATES for record in slave.tasks.values()):
            return
        info.state = mesos_pb2.DRAINED
        self._cancel_grace(slave.id)
        self.log.info("Agent {slave_id} is drained", slave_id=slave.id)
        if info.config.mark_gone:
            # Not while the master is still recording the task's end.
            self.master.reactor.callLater(0, self._gone_if_drained, slave)

    def _gone_if_drained(self, slave):
        if self.master.slaves.get(slave.id) is slave and slave.drain_info is not None \
                and slave.drain_info.state == mesos_pb2.DRAINED:
            self.mark_gone(slave.id)

    # The master's events.

    def task_updated(self, record, status):
        """
        A task on a draining slave ended: the slave may be drained now.
        """
        if status.state not in TERMINAL_STATES:
            return
        slave = self.master.slaves.get(record.task.slave_id.value)
        if slave is not None:
            self._check_drained(slave)

    def agent_removed(self, slave_id):
        """
        A removed slave drains no more.
        """
        self._cancel_grace(slave_id)

    def term_ended(self, why):
        """
        The term is over: no grace period runs out in it.
        """
        for slave_id in list(self._grace_calls):
            self._cancel_grace(slave_id)
