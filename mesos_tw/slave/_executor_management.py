"""
The slave's handling of tasks and executors: launching executors through the
isolator, handing them tasks, kills, framework messages, shutdowns, and
executor exits (their registration, disconnection and resubscription are in
L{mesos_tw.slave._subscriptions}).  Mixed into L{mesos_tw.slave.slave.Slave},
whose state it uses.
"""

import uuid

from mesos_tw.isolation.interface import Container, wants_tty
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave.executor_secrets import ENVIRONMENT_VARIABLE as SECRET_VARIABLE
from mesos_tw.slave.launching import (
    command_executor_info,
    default_executor_info,
    describe_wait_status,
    executor_environment,
)
from mesos_tw.slave.paths import create_run_directory
from mesos_tw.slave.state import (
    LAUNCHING,
    RUNNING,
    TERMINATED,
    TERMINATING,
    ExecutorRecord,
    FrameworkRecord,
)

__all__ = ["ExecutorManagement", "task_record"]

Status = mesos_pb2.TaskStatus


class ExecutorManagement:
    """
    Tasks and executors, for the L{Slave}.
    """

    def _executor_info_for(self, framework_id, task):
        if task.HasField("executor"):
            info = mesos_pb2.ExecutorInfo()
            info.CopyFrom(task.executor)
            info.framework_id.value = framework_id
            return info, False
        return command_executor_info(framework_id, task, self.python), True

    def _run_task(self, sender, message):
        task = message.task
        framework = self._framework_for_launch(sender, message.framework_id.value,
                                               message.framework, message.pid, [task.task_id])
        if framework is None:
            return
        info, command_executor = self._executor_info_for(framework.id, task)
        self._launch_tasks(framework, info, command_executor, [task], grouped=False)

    def _run_task_group(self, sender, message):
        """
        A task group: its tasks go to their executor together, in one
        message (a LAUNCH_GROUP event for a v1 executor).
        """
        tasks = list(message.task_group.tasks)
        framework = self._framework_for_launch(sender, message.framework.id.value,
                                               message.framework, message.pid,
                                               [task.task_id for task in tasks])
        if framework is None:
            return
        info = mesos_pb2.ExecutorInfo()
        info.CopyFrom(message.executor)
        info.framework_id.value = framework.id
        self._launch_tasks(framework, info, False, tasks, grouped=True)

    def _launch_tasks(self, framework, info, command_executor, tasks, grouped):
        """
        Hand C{tasks} (a task group if C{grouped}, else one task) to their
        executor now if it is connected, else queue them on it; launch it
        if it is new.
        """
        self.stats["staged_tasks"] += len(tasks)
        executor, new = self._executor_for_launch(framework, info, command_executor, tasks)
        if executor is None:
            return
        if self._checkpoints(framework):
            for task in tasks:
                self._checkpoint_task(framework, executor, task_record(framework, executor, task))
        if executor.connected:
            self._send_tasks(framework, executor, tasks, grouped)
        else:
            executor.queue(tasks, grouped)
        if new:
            self._launch_executor(framework, executor)

    def _framework_for_launch(self, sender, framework_id, framework_info, pid, task_ids):
        """
        The framework record a launch from the master goes to (made on its
        first launch here), or L{None} if the launch is to be ignored.
        """
        described = ", ".join(task_id.value for task_id in task_ids)
        if sender != self.master or not self.registered:
            self.log.warn("Ignoring task(s) {task_ids} from {sender}: not our registered master",
                          task_ids=described, sender=str(sender))
            return None
        framework = self.frameworks.get(framework_id)
        if framework is None:
            framework = self.frameworks[framework_id] = FrameworkRecord(
                framework_id, framework_info, pid)
            self._checkpoint_framework(framework)
        elif framework.shutting_down:
            # The master removed the framework: nobody is left to tell.
            self.log.warn("Ignoring task(s) {task_ids} of framework {framework_id}: shutting "
                          "down", task_ids=described, framework_id=framework_id)
            return None
        if framework.pid != pid:
            framework.pid = pid
            self._checkpoint_framework_pid(framework)
        return framework

    def _executor_for_launch(self, framework, info, command_executor, tasks):
        """
        The executor C{tasks} are launched on: a running or launching one,
        or a new record (for the caller to launch once the tasks are
        queued on it).  If it is shutting down the tasks are lost (the
        master hears it) and there is none.

        @return: C{(executor or None, whether it is new)}.
        """
        executor = framework.executors.get(info.executor_id.value)
        if executor is None:
            return self._new_executor(framework, info, command_executor), True
        if executor.state not in (RUNNING, LAUNCHING):
            for task in tasks:
                self._send_slave_update(framework.id, info.executor_id.value, task.task_id,
                                        mesos_pb2.TASK_LOST, "Executor is shutting down",
                                        Status.REASON_EXECUTOR_TERMINATED)
            return None, False
        return executor, False

    def _new_executor(self, framework, info, command_executor):
        run_id = str(uuid.UUID(bytes=self.new_uuid()))
        directory = create_run_directory(
            self.work_dir, self.id, framework.id, info.executor_id.value, run_id)
        executor = ExecutorRecord(info, framework.id, run_id, directory, command_executor)
        framework.executors[executor.id] = executor
        self._unschedule_for_launch(executor)
        self._checkpoint_executor(framework, executor, info)
        return executor

    def _launch_executor(self, framework, executor):
        info, directory = executor.info, executor.directory
        if info.type == mesos_pb2.ExecutorInfo.DEFAULT:
            info = default_executor_info(info, self.python)
        environment = executor_environment(self.environ, self.pid, framework.id, info, directory,
                                           self.executor_shutdown_grace_period,
                                           self._checkpoints(framework), self.recovery_timeout)
        if self.executor_secrets is not None:
            environment[SECRET_VARIABLE] = self.executor_secrets.token(framework.id, executor.id)
        self.log.info("Launching executor {executor_id} of framework {framework_id} in {directory}",
                      executor_id=executor.id, framework_id=framework.id, directory=directory)
        executor.registration_timer = self.reactor.callLater(
            self.executor_registration_timeout, self._registration_timeout, framework, executor)
        container = Container(
            framework_id=framework.id, executor_id=executor.id, run_id=executor.run_id,
            executor_info=info, directory=directory, resources=executor.resources(),
            user=(framework.info.user or None) if self.switch_user else None,
            tty=wants_tty(info.command, *(task.command for task in executor.queued_tasks.values())),
            builtin="command" if executor.command_executor else None)
        d = self.isolator.prepare(container)
        # Mesos's fetcher: the executor's URIs reach its sandbox before it
        # starts (a failure fails its launch, saying which URI).
        d.addCallback(lambda _: self.fetcher.fetch(info.command, directory))
        d.addCallback(lambda _: self.isolator.launch(framework.id, executor.id, environment))

        def launched(pid):
            self._checkpoint_forked_pid(framework, executor, pid)
            waiting = self.isolator.wait(framework.id, executor.id)
            waiting.addCallback(self._executor_terminated, framework, executor)
            waiting.addErrback(lambda failure: self.log.failure(
                "Lost track of executor {executor_id}", failure, executor_id=executor.id))

        def failed(failure):
            self.log.warn("Could not launch executor {executor_id}: {error}",
                          executor_id=executor.id, error=failure.getErrorMessage())
            self._cleanup_container(framework, executor)
            if executor.termination is not None:
                state, reason, text = executor.termination
            else:
                state, reason = mesos_pb2.TASK_FAILED, Status.REASON_CONTAINER_LAUNCH_FAILED
                text = f"Failed to launch executor: {failure.getErrorMessage()}"
            self._executor_gone(framework, executor, None, text, reason, state)

        d.addCallbacks(launched, failed)

    def _running_executors(self):
        """
        C{(framework_id, executor_id, info)} of every executor whose
        process has been launched and has not ended, for the monitor.
        """
        return [(framework.id, executor.id, executor.info)
                for framework in self.frameworks.values()
                for executor in framework.executors.values()
                if executor.state in (LAUNCHING, RUNNING, TERMINATING)]

    def _cleanup_container(self, framework, executor):
        d = self.isolator.cleanup(framework.id, executor.id)
        d.addErrback(lambda failure: self.log.failure(
            "Could not clean up the container of executor {executor_id}", failure,
            executor_id=executor.id))

    def _update_container(self, framework, executor):
        """
        Tell the isolator the resources of a live executor's tasks, once
        per turn of the reactor however many of its tasks came or went.
        """
        if executor.state == TERMINATED or executor.limits_call is not None:
            return
        executor.limits_call = self.reactor.callLater(0, self._apply_limits, framework, executor)

    def _apply_limits(self, framework, executor):
        executor.limits_call = None
        if executor.state == TERMINATED:
            return
        d = self.isolator.update(framework.id, executor.id, executor.resources())
        d.addErrback(lambda failure: self.log.warn(
            "Could not update the limits of executor {executor_id}: {error}",
            executor_id=executor.id, error=failure.getErrorMessage()))

    def _destroy_container(self, framework, executor):
        d = self.isolator.destroy(framework.id, executor.id)
        d.addErrback(lambda failure: self.log.failure(
            "Could not destroy executor {executor_id}", failure, executor_id=executor.id))
        return d

    def _registration_timeout(self, framework, executor):
        executor.registration_timer = None
        if executor.state == LAUNCHING:
            self.log.warn("Executor {executor_id} did not register in time; killing it",
                          executor_id=executor.id)
            executor.state = TERMINATING
            executor.termination = (
                mesos_pb2.TASK_LOST, Status.REASON_EXECUTOR_REGISTRATION_TIMEOUT,
                f"Executor did not register within {self.executor_registration_timeout:g} s")
            self._destroy_container(framework, executor)

    def _send_task(self, framework, executor, task):
        record = self._track_task(framework, executor, task, None)
        self.node.send(executor.pid, internal.RunTaskMessage(
            framework_id=record.framework_id, framework=framework.info, pid=framework.pid,
            task=task))
        self._update_container(framework, executor)

    def _track_task(self, framework, executor, task, group):
        """
        Record a task handed to its connected executor (in task group
        C{group}, a list of task ids, or alone if L{None}), staging.  Until
        the task's first update its C{TaskInfo} and group are kept, to send
        again should the executor lose its connection without having seen
        it.
        """
        record = task_record(framework, executor, task)
        executor.tasks[task.task_id.value] = record
        executor.staging[task.task_id.value] = (task, group)
        return record

    def _send_tasks(self, framework, executor, tasks, grouped):
        """
        Send C{tasks} to the connected executor: as one task group if
        C{grouped}, else each alone.
        """
        if grouped:
            self._send_task_group(framework, executor, tasks)
        else:
            for task in tasks:
                self._send_task(framework, executor, task)

    def _send_task_group(self, framework, executor, tasks):
        group = mesos_pb2.TaskGroupInfo()
        task_ids = [task.task_id.value for task in tasks]
        for task in tasks:
            self._track_task(framework, executor, task, task_ids)
            group.tasks.add().CopyFrom(task)
        self.node.send(executor.pid, internal.RunTaskGroupMessage(
            framework=framework.info, executor=executor.info, task_group=group,
            pid=framework.pid))
        self._update_container(framework, executor)

    def _send_queued(self, framework, executor):
        """
        Hand a (re)subscribed executor what waited for it: task groups
        whole, then single tasks.
        """
        groups, tasks = executor.take_queued()
        for group in groups:
            self._send_task_group(framework, executor, group)
        self._send_tasks(framework, executor, tasks, grouped=False)

    def _kill_task(self, sender, message):
        if sender != self.master:
            self.log.warn("Ignoring a kill of task {task_id} from {sender}: not our master",
                          task_id=message.task_id.value, sender=str(sender))
            return
        framework_id, task_id = message.framework_id.value, message.task_id.value
        framework = self.frameworks.get(framework_id)
        for executor in (framework.executors.values() if framework else ()):
            if task_id in executor.queued_tasks:
                self._kill_queued(framework, executor, task_id)
                self._shutdown_if_idle_command_executor(framework, executor)
                return
            if task_id in executor.tasks:
                if executor.connected:
                    self.node.send(executor.pid, message)
                elif executor.state == RUNNING:
                    self.log.info("Task {task_id}'s executor is disconnected; the kill waits "
                                  "for it to subscribe again", task_id=task_id)
                    executor.pending_kills.add(task_id)
                else:
                    # Its executor is going; the exit will end the task.
                    self.log.info("Task {task_id} ends with its terminating executor",
                                  task_id=task_id)
                return
        self._send_slave_update(framework_id, None, message.task_id, mesos_pb2.TASK_LOST,
                                "Cannot kill the task: unknown to the slave",
                                Status.REASON_TASK_UNKNOWN)

    def _kill_queued(self, framework, executor, task_id):
        """
        Kill a task that has not reached its executor; a task group goes
        whole (Mesos's rule: a group runs all of its tasks or none).
        """
        group = executor.queued_group_of(task_id)
        if group is None:
            killed, text = [task_id], "Killed before it was launched"
        else:
            executor.queued_groups.remove(group)
            killed = group
            text = (f"Killed before it was launched: task {task_id} of its task group was "
                    "killed")
        for each in killed:
            task = executor.queued_tasks.pop(each)
            self._send_slave_update(framework.id, executor.id, task.task_id,
                                    mesos_pb2.TASK_KILLED, text, None)

    def _shutdown_if_idle_command_executor(self, framework, executor):
        """
        A command executor whose task was killed before it got it has
        nothing left to run: shut it down.
        """
        if executor.command_executor and not executor.queued_tasks and not executor.tasks:
            self._shutdown_executor(framework, executor)

    def _shutdown_executor_request(self, sender, message):
        """
        The master passes on a framework's request (the v1 SHUTDOWN call)
        to shut down one of its executors; its unfinished tasks end killed.
        """
        framework = self.frameworks.get(message.framework_id.value)
        executor = framework.executors.get(message.executor_id.value) if framework else None
        if sender != self.master or executor is None:
            self.log.warn("Ignoring a shutdown of executor {executor_id} of framework "
                          "{framework_id} from {sender}: not our master, or not an executor "
                          "of ours", executor_id=message.executor_id.value,
                          framework_id=message.framework_id.value, sender=str(sender))
            return
        self.log.info("Shutting down executor {executor_id} of framework {framework_id}, as "
                      "the framework asks", executor_id=executor.id, framework_id=framework.id)
        if executor.termination is None:
            executor.termination = (mesos_pb2.TASK_KILLED, Status.REASON_EXECUTOR_TERMINATED,
                                    "Executor shut down at the framework's request")
        self._shutdown_executor(framework, executor)

    def _framework_to_executor(self, sender, message):
        framework = self.frameworks.get(message.framework_id.value)
        executor = framework.executors.get(message.executor_id.value) if framework else None
        if executor is None or executor.state != RUNNING:
            self.log.warn("Dropping framework message for executor {executor_id}: not running",
                          executor_id=message.executor_id.value)
            return
        if not executor.connected:
            # Framework messages are best effort: not kept for later.
            self.log.warn("Dropping framework message for executor {executor_id}: it is "
                          "disconnected", executor_id=message.executor_id.value)
            return
        self.node.send(executor.pid, message)

    def _executor_to_framework(self, sender, message):
        if sender not in self._executors_by_pid:
            self.log.warn("Dropping a framework message from {sender}: not one of our executors",
                          sender=str(sender))
            return
        if not self.registered:
            # Framework messages are best effort: not kept for a new master.
            self.log.warn("Dropping a framework message from {sender}: no master",
                          sender=str(sender))
            return
        message.slave_id.value = self.id
        self.node.send(self.master, message)

    def _update_framework(self, sender, message):
        framework = self.frameworks.get(message.framework_id.value)
        if framework is None or sender != self.master:
            self.log.info("Ignoring an update of framework {framework_id} from {sender}",
                          framework_id=message.framework_id.value, sender=str(sender))
            return
        self.log.info("Framework {framework_id} has a new scheduler at {pid}",
                      framework_id=framework.id, pid=message.pid)
        framework.pid = message.pid
        self._checkpoint_framework_pid(framework)
        # As Mesos: the new scheduler gets the updates waiting for it now,
        # not at their next retry.
        self.status_updates.flush(framework.id)

    def _shutdown_framework(self, sender, message):
        framework = self.frameworks.get(message.framework_id.value)
        if sender != self.master or framework is None:
            self.log.info("Ignoring a shutdown of framework {framework_id} from {sender}",
                          framework_id=message.framework_id.value, sender=str(sender))
            return
        self.log.info("Shutting down framework {framework_id}", framework_id=framework.id)
        framework.shutting_down = True
        self.status_updates.discard_framework(framework.id)
        for executor in list(framework.executors.values()):
            self._shutdown_executor(framework, executor)

    def _shutdown_executor(self, framework, executor):
        """
        Ask an executor to shut down, and kill it after the grace period.
        """
        if executor.state in (TERMINATING, TERMINATED):
            return
        if executor.connected:
            self.node.send(executor.pid, internal.ShutdownExecutorMessage())
        executor.cancel_reregistration_timer()
        executor.state = TERMINATING
        executor.shutdown_timer = self.reactor.callLater(
            self.executor_shutdown_grace_period, self._destroy_container, framework, executor)

    def _executor_terminated(self, termination, framework, executor):
        """
        The isolator reports that an executor's container has ended.  What
        the executor sent before it exited may still be unread on its
        connection (its final status update, on a busy machine): while the
        connection is open the slave goes on reading it, and acts on the
        exit when it closes (L{_executor_disconnected}), or after
        C{executor_exit_read_timeout} seconds at most.
        """
        self._cleanup_container(framework, executor)
        if executor.pid is None:
            self._executor_ended(termination, framework, executor)
            return
        executor.exit = termination
        executor.exit_timer = self.reactor.callLater(
            self.executor_exit_read_timeout, self._exit_read_timeout, framework, executor)

    def _exit_read_timeout(self, framework, executor):
        """
        An executor's process ended long ago but its connection is still
        open (a process it passed the socket to, say): close it, and act on
        the exit.
        """
        executor.exit_timer = None
        self.log.warn("Executor {executor_id} of framework {framework_id} exited, but its "
                      "connection stayed open {timeout:g} s; closing it",
                      executor_id=executor.id, framework_id=framework.id,
                      timeout=self.executor_exit_read_timeout)
        pid, executor.pid = executor.pid, None
        # Forgotten first: the connection's end is then not this executor's.
        self._executors_by_pid.pop(pid, None)
        self.node.disconnect(pid)
        self._executor_ended(executor.exit, framework, executor)

    def _executor_ended(self, termination, framework, executor):
        """
        An executor's process and its connection have ended: its
        unfinished tasks end too, with the isolator's reason (a memory
        limit, say) when it gave one, else with what the slave decided when
        it killed the executor, else as lost (failed, for the command
        executor).
        """
        status = termination.status
        how = describe_wait_status(status) if status is not None else "ended"
        self.log.info("Executor {executor_id} of framework {framework_id} {how}",
                      executor_id=executor.id, framework_id=framework.id, how=how,
                      why=termination.message)
        if termination.reason is not None:
            state, reason = mesos_pb2.TASK_FAILED, termination.reason
            text = termination.message or f"Executor {how}"
        elif executor.termination is not None:
            state, reason, text = executor.termination
        else:
            state = mesos_pb2.TASK_FAILED if executor.command_executor else mesos_pb2.TASK_LOST
            reason = Status.REASON_EXECUTOR_TERMINATED
            text = termination.message or f"Executor {how}"
        self._executor_gone(framework, executor, status, text, reason, state)

    def _executor_gone(self, framework, executor, status, text, reason, state):
        """
        An executor ended or never started: its unfinished tasks end with
        C{state}, the master hears of it, and the records move to history.
        """
        if executor.state == TERMINATED:
            return
        executor.cancel_timers()
        executor.state = TERMINATED
        self._executors_by_pid.pop(executor.pid, None)
        if not framework.shutting_down:
            for task in list(executor.queued_tasks.values()) + list(executor.tasks.values()):
                self._send_slave_update(framework.id, executor.id, task.task_id, state, text, reason)
        executor.queued_tasks.clear()
        executor.queued_groups.clear()
        executor.staging.clear()
        executor.pending_kills.clear()
        if status is None and executor.recovered:
            # Not our child: its wait status cannot be known (Mesos: -1).
            status = -1
        if self.registered and status is not None:
            self.node.send(self.master, internal.ExitedExecutorMessage(
                slave_id=mesos_pb2.SlaveID(value=self.id),
                framework_id=mesos_pb2.FrameworkID(value=framework.id),
                executor_id=executor.info.executor_id, status=status))
        self._checkpoint_run_ended(framework, executor)
        self._schedule_sandbox_gc(framework, executor)
        framework.executors.pop(executor.id, None)
        framework.completed_executors.append(executor)
        self._maybe_complete(framework)

    def _maybe_complete(self, framework):
        if not framework.executors and not self.status_updates.pending(framework.id):
            if self.frameworks.pop(framework.id, None) is not None:
                self.completed_frameworks.append(framework)
                self._schedule_framework_gc(framework)


def task_record(framework, executor, task):
    """
    The C{Task} the slave keeps (and checkpoints) of a C{TaskInfo}, staging.
    """
    # The ids are set from their text (copying id messages costs more),
    # and the resources extended in one call: one record per task launched.
    record = internal.Task(name=task.name, state=mesos_pb2.TASK_STAGING)
    record.task_id.value = task.task_id.value
    record.framework_id.value = framework.id
    record.executor_id.value = executor.info.executor_id.value
    record.slave_id.value = task.slave_id.value
    record.resources.extend(task.resources)
    return record
