"""
Slave recovery: a slave that starts where one ran before reads what it
checkpointed (L{mesos_tw.slave.checkpointed}), rebuilds its frameworks,
executors, tasks and status update streams, asks its isolator to resume
the executors' containers, and has the live executors subscribe again,
so that a restart, a crash or an upgrade of the slave loses no task of a
checkpointing framework.  Mixed into L{mesos_tw.slave.slave.Slave}.

What happens to each checkpointed executor run that had not ended:

  - the machine rebooted (the boot id changed): it is gone; its tasks end
    C{TASK_LOST} (C{REASON_SLAVE_RESTARTED});
  - C{--recover=cleanup}: it is destroyed; its tasks end the same way;
  - it never registered (no C{libprocess.pid}): it is destroyed, as
    Mesos's C{RecoverUnregisteredExecutor}; its tasks (those it was sent
    and those queued for it, all checkpointed) end C{TASK_LOST}, or
    C{TASK_GONE} for a partition-aware framework, with Mesos's reason
    C{REASON_EXECUTOR_REREGISTRATION_TIMEOUT} (Mesos waits for that
    timeout first: nothing could register meanwhile, so we do not);
  - its container cannot be resumed (its process is gone): its tasks end
    as for any executor that exits (C{TASK_LOST}, or C{TASK_FAILED} for
    the command executor);
  - otherwise it has C{--executor_reregistration_timeout} to subscribe
    again (C{ReregisterExecutorMessage}, with the tasks it has and the
    updates it sent that it has not seen acknowledged), or it is
    destroyed and its tasks end C{TASK_LOST} (C{TASK_GONE} if
    partition-aware).  A task still staging that it does not list (sent,
    or queued for it, just before the slave died) never reached it: only
    its C{Task} is checkpointed, not the C{TaskInfo} to send it again, so
    it ends C{TASK_LOST} (C{TASK_DROPPED} if partition-aware), as in
    Mesos.

After a reboot or a cleanup the slave re-registers under its old id so
that those updates reach the frameworks, and once every one is
acknowledged it leaves that id (C{UnregisterSlaveMessage}) and registers
afresh, as a new slave.
"""

import os

from mesos_tw.isolation.interface import Container
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.slave import paths
from mesos_tw.slave.checkpoint import CheckpointError, checkpoint
from mesos_tw.slave._executor_management import task_record
from mesos_tw.slave.checkpointed import read_boot_id, recover_slave_state
from mesos_tw.slave.launching import COMMAND_EXECUTOR_NAME
from mesos_tw.slave.state import (
    RUNNING, TERMINAL_STATES, ExecutorRecord, FrameworkRecord, lost_state)

__all__ = ["RECOVER_MODES", "SlaveRecovery", "current_boot_id"]

Status = mesos_pb2.TaskStatus

#: The values of C{--recover}.
RECOVER_MODES = ("reconnect", "cleanup")

_UNREAD = object()


def current_boot_id(path="/proc/sys/kernel/random/boot_id"):
    """
    The machine's boot id: it changes when the machine reboots.
    """
    with open(path) as file:
        return file.read().strip()


class SlaveRecovery:
    """
    Recovery, for the L{Slave}.
    """

    _recovered_state = _UNREAD

    def recover_state(self):
        """
        Read the checkpointed state (once; L{start} does it if not done).

        @raise CheckpointError: naming the file and what is wrong, if a
            file cannot be read and the slave is C{strict}; then the slave
            must not start.
        """
        if self._recovered_state is not _UNREAD:
            return
        try:
            previous_boot_id = read_boot_id(self.work_dir)
            state = recover_slave_state(self.work_dir, self.strict)
        except CheckpointError as error:
            if self.strict:
                raise
            self.log.error("Cannot recover the slave's checkpointed state ({path}: {why}); "
                           "starting as a new slave (--strict=false)", path=error.path,
                           why=error.why)
            previous_boot_id, state = None, None
        self._recovered_state = (previous_boot_id, state)

    def _recover(self):
        """
        Rebuild what was checkpointed and recover the containers.

        @return: a Deferred firing once recovery is over (the executors
            that live have then been asked to subscribe again).
        """
        self.recover_state()
        previous_boot_id, state = self._recovered_state
        self._recovered_state = (None, None)
        if state is None:
            return self.isolator.recover([]).addCallback(self._recovered)
        rebooted = previous_boot_id is not None and previous_boot_id != self.boot_id
        self.id = state.id
        self.recovery_errors = state.errors
        self.log.info("Recovering slave {slave_id}: {frameworks} checkpointing frameworks"
                      "{rebooted}{cleanup}", slave_id=self.id, frameworks=len(state.frameworks),
                      rebooted=" (the machine rebooted)" if rebooted else "",
                      cleanup=" (--recover=cleanup)" if self.recover == "cleanup" else "")
        live = []
        for framework_state in state.frameworks.values():
            framework = FrameworkRecord(framework_state.id, framework_state.info,
                                        framework_state.pid)
            self.frameworks[framework.id] = framework
            for executor_state in framework_state.executors.values():
                run = executor_state.runs.get(executor_state.latest)
                if run is None:
                    continue
                executor = self._recovered_executor(framework, executor_state, run)
                if run.completed:
                    framework.completed_executors.append(executor)
                    self._schedule_sandbox_gc(framework, executor)
                else:
                    framework.executors[executor.id] = executor
                    live.append((framework, executor, run))
        if rebooted or self.recover == "cleanup":
            self._retiring_id = True
        containers = [] if rebooted else [self._container_of(framework, executor, run)
                                          for framework, executor, run in live]
        d = self.isolator.recover(containers)
        d.addCallback(lambda _: self._containers_recovered(live, rebooted))
        return d.addCallback(self._recovered)

    def _recovered_executor(self, framework, executor_state, run):
        """
        The record of one checkpointed executor run: its tasks (terminal
        ones among the completed) and their status update streams.
        """
        info = executor_state.info
        directory = paths.executor_run_directory(self.work_dir, self.id, framework.id,
                                                 executor_state.id, run.id)
        executor = ExecutorRecord(info, framework.id, run.id, directory,
                                  info.name.startswith(COMMAND_EXECUTOR_NAME), state=RUNNING)
        executor.recovered = True
        executor.checkpointed_pid = run.libprocess_pid
        for task_state in run.tasks.values():
            task = internal.Task()
            task.CopyFrom(task_state.info)
            task.state = task_state.latest_state()
            if task.state in TERMINAL_STATES:
                executor.completed_tasks.append(task)
            else:
                executor.tasks[task_state.id] = task
            self.status_updates.recover(
                framework.id, task_state.id, self._updates_path(framework, executor, task_state.id),
                task_state.updates, task_state.acks)
        return executor

    def _container_of(self, framework, executor, run):
        return Container(
            framework_id=framework.id, executor_id=executor.id, run_id=executor.run_id,
            executor_info=executor.info, directory=executor.directory,
            resources=executor.resources(), pid=run.forked_pid, start_time=run.start_time)

    def _containers_recovered(self, live, rebooted):
        """
        The isolator has resumed what it could: watch those executors and
        give them a while to subscribe again; end the others.
        """
        for framework, executor, run in live:
            if rebooted:
                self._executor_gone(framework, executor, None,
                                    "The slave's machine rebooted: the executor is gone",
                                    Status.REASON_SLAVE_RESTARTED, mesos_pb2.TASK_LOST)
                continue
            waiting = self.isolator.wait(framework.id, executor.id)
            waiting.addCallback(self._executor_terminated, framework, executor)
            waiting.addErrback(lambda failure, executor=executor: self.log.failure(
                "Lost track of recovered executor {executor_id}", failure,
                executor_id=executor.id))
            if self.recover == "cleanup":
                executor.termination = (
                    mesos_pb2.TASK_LOST, Status.REASON_SLAVE_RESTARTED,
                    "The slave restarted with --recover=cleanup: executor killed")
            elif run.libprocess_pid is None:
                executor.termination = (
                    lost_state(framework, mesos_pb2.TASK_GONE),
                    Status.REASON_EXECUTOR_REREGISTRATION_TIMEOUT,
                    "The executor had not registered when the slave restarted")
            else:
                executor.reregistration_timer = self.reactor.callLater(
                    self.executor_reregistration_timeout, self._reregistration_timeout,
                    framework, executor)
                continue
            executor.state = "terminating"
            self._destroy_container(framework, executor)

    def _recovered(self, ignored):
        """
        Recovery is over: note the boot id, and ask the executors that
        tried to subscribe meanwhile, or that are connected, to do so again.
        """
        self.recovering = False
        checkpoint(paths.boot_id_path(self.work_dir), self.boot_id + "\n")
        waiting, self._waiting_executors = self._waiting_executors, set()
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                try:
                    checkpointed = UPID.parse(executor.checkpointed_pid or "")
                except ValueError:
                    continue
                if self.node.connected_to(checkpointed):
                    waiting.add(checkpointed)
        for upid in waiting:
            self.node.send(upid, internal.ReconnectExecutorMessage(
                slave_id=mesos_pb2.SlaveID(value=self.id or "")))
        for framework in list(self.frameworks.values()):
            self._maybe_complete(framework)

    def _while_recovering(self, sender, message):
        """
        An executor subscribes before recovery is over: it is asked to do
        so again once it is (C{ReconnectExecutorMessage}).
        """
        self.log.info("Executor {executor_id} subscribes while the slave recovers; it will be "
                      "asked to again", executor_id=message.executor_id.value)
        self._waiting_executors.add(sender)

    def _lose_unlisted(self, framework, executor, listed):
        """
        A recovered executor subscribed again: its tasks still staging that
        it does not list never reached it (the slave has no C{TaskInfo} to
        send them again): they are lost, as in Mesos.
        """
        for task_id, task in list(executor.tasks.items()):
            if task.state == mesos_pb2.TASK_STAGING and task_id not in listed:
                self._send_slave_update(
                    framework.id, executor.id, task.task_id,
                    lost_state(framework, mesos_pb2.TASK_DROPPED),
                    "Task launched during slave restart: the executor never received it",
                    Status.REASON_SLAVE_RESTARTED)

    def _maybe_register_afresh(self):
        """
        After a reboot or a cleanup: once every update of the old slave id
        is acknowledged and no executor is left, leave that id and register
        as a new slave.
        """
        if not self._retiring_id or not self.registered:
            return
        if self.status_updates.pending() or any(f.executors for f in self.frameworks.values()):
            return
        self._retiring_id = False
        old = self.id
        self.log.info("Every task of slave {slave_id} is accounted for; registering as a new "
                      "slave", slave_id=old)
        self.node.send(self.master, internal.UnregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=old)))
        self._forget_slave_id()
        self.id = None
        self.frameworks.clear()
        self._register_again()

    def _forget_slave_id(self):
        """
        Remove C{meta/slaves/latest}: what it named is not recovered again.
        """
        try:
            os.unlink(os.path.join(paths.slaves_meta_directory(self.work_dir), "latest"))
        except FileNotFoundError:
            pass
        except OSError as error:
            self.log.error("Failed to forget the slave id {slave_id}: {error}",
                           slave_id=self.id, error=error.strerror)

    def _reregister_message(self):
        """
        The C{ReregisterSlaveMessage} naming every executor and task we
        run or hold for an executor still registering, and (as Mesos) the
        tasks that have ended but whose updates are not all acknowledged:
        their updates are on their way, and the master must not think them
        unknown to us meanwhile.  As Mesos, an ended task is reported in its
        latest (terminal) state, with the state and uuid of the update in
        flight: reported in an earlier state, the master would count its
        resources as still in use although they went to another task (the
        simulator found a slave given five tasks of 0.25 cpus).
        """
        message = internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=self.id), slave=self.info())
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                info = message.executor_infos.add()
                info.CopyFrom(executor.info)
                info.framework_id.value = framework.id
                message.tasks.extend(executor.tasks.values())
                # Tasks waiting for their executor to register are ours too
                # (Mesos reports them TASK_STAGING): left out, the master
                # would report them lost while they may still run.
                message.tasks.extend(task_record(framework, executor, task)
                                     for task in executor.queued_tasks.values())
            for executor in list(framework.executors.values()) + list(
                    framework.completed_executors):
                for task in executor.completed_tasks:
                    update = self.status_updates.unacknowledged_ending(
                        framework.id, task.task_id.value)
                    if update is not None:
                        reported = message.tasks.add()
                        reported.CopyFrom(task)
                        reported.status_update_state = update.status.state
                        reported.status_update_uuid = update.uuid
        return message

