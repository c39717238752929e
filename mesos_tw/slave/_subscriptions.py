"""
How the slave's executors register, lose their connection and subscribe
again.  Mixed into L{mesos_tw.slave.slave.Slave}, whose state it uses.

An executor registers once its process has started
(C{RegisterExecutorMessage}); its connection may then break (an HTTP
executor's stream closed, say) while its process lives on.  It is then
disconnected: tasks for it wait, as for a launching executor, and it has
C{executor_reregistration_timeout} seconds to subscribe again
(C{RegisterExecutorMessage}, or C{ReregisterExecutorMessage} with what it
has not seen acknowledged) before the slave kills it.  A new subscription
of a connected executor replaces its connection.
"""

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave.state import LAUNCHING, RUNNING, TERMINATING, lost_state

__all__ = ["ExecutorSubscriptions"]

Status = mesos_pb2.TaskStatus


class ExecutorSubscriptions:
    """
    Executor registration, disconnection and resubscription, for the
    L{Slave}.
    """

    def _register_executor(self, sender, message):
        self._executor_subscribed(sender, message, (), ())

    def _reregister_executor(self, sender, message):
        self._executor_subscribed(sender, message, message.tasks, message.updates)

    def _subscription_refused(self, framework, executor):
        """
        Why an executor may not (re)subscribe, or L{None} if it may.
        """
        if self.terminating:
            return "the slave is shutting down"
        if framework is None:
            return "its framework is unknown"
        if framework.shutting_down:
            return "its framework is shutting down"
        if executor is None:
            return "it is unknown"
        if executor.state not in (LAUNCHING, RUNNING):
            return "it is shutting down"
        return None

    def _executor_subscribed(self, sender, message, tasks, updates):
        """
        An executor registers (C{RegisterExecutorMessage}), or subscribes
        again after its connection broke, or replaces its connection
        (C{ReregisterExecutorMessage}, with the C{tasks} it was sent and
        the C{updates} it sent that it has not seen acknowledged).

        C{sender} becomes the executor's UPID; its updates are taken (the
        slave may have them already: duplicates are only acknowledged
        again); the tasks the slave sent that are still staging and that
        it does not list never reached it, and are sent again (Mesos makes
        them C{TASK_LOST}).  Then it hears C{ExecutorRegisteredMessage},
        the acknowledgements, the tasks sent again, the queued tasks, and
        the kills that came while it was away.
        """
        if self.recovering:
            self._while_recovering(sender, message)
            return
        framework = self.frameworks.get(message.framework_id.value)
        executor = framework.executors.get(message.executor_id.value) if framework else None
        refusal = self._subscription_refused(framework, executor)
        if refusal is not None:
            self.log.warn("Shutting down executor {executor_id} of framework {framework_id} at "
                          "{sender}: {why}", executor_id=message.executor_id.value,
                          framework_id=message.framework_id.value, sender=str(sender),
                          why=refusal)
            self.node.send(sender, internal.ShutdownExecutorMessage(
                executor_id=message.executor_id, framework_id=message.framework_id))
            return
        resubscribed = executor.state == RUNNING
        if resubscribed:
            self._replace_connection(executor, sender)
        else:
            executor.cancel_registration_timer()
            executor.state = RUNNING
        executor.pid = sender
        self._executors_by_pid[sender] = executor
        self._checkpoint_libprocess_pid(framework, executor)
        self.node.send(sender, internal.ExecutorRegisteredMessage(
            executor_info=executor.info, framework_id=message.framework_id,
            framework_info=framework.info, slave_id=mesos_pb2.SlaveID(value=self.id),
            slave_info=self.info()))
        for update in updates:
            self._executor_update(sender, executor, update)
        if resubscribed:
            listed = {task.task_id.value for task in tasks}
            self._resend_undelivered(framework, executor, listed)
            if executor.recovered:
                never_sent = self._never_sent_a_task(executor, listed)
                self._lose_unlisted(framework, executor, listed)
                if never_sent and not executor.tasks and not executor.queued_tasks \
                        and not executor.queued_groups:
                    # As Mesos (MESOS-8411): an executor that never got a
                    # task (its tasks were on their way when the slave
                    # died) has nothing to run; a command executor would
                    # wait for one for ever (simulator seeds 30089, 40009).
                    self.log.warn("Shutting down re-registering executor {executor_id}: it "
                                  "has no tasks to run and was never sent one",
                                  executor_id=executor.id)
                    self._shutdown_executor(framework, executor)
                    return
        self._send_queued(framework, executor)
        self._send_pending_kills(framework, executor)

    @staticmethod
    def _never_sent_a_task(executor, listed):
        """
        Whether a recovered executor, re-registering listing the tasks
        C{listed}, can never have been sent a task: it lists none, every
        task the slave has for it is still staging (none was reported on
        by it), and none ended.  (Mesos also counts ended tasks that only
        the slave reported on; their updates are not kept here, so an
        executor with ended tasks is taken to have been sent one.)
        """
        return (not listed and not executor.completed_tasks
                and all(task.state == mesos_pb2.TASK_STAGING
                        for task in executor.tasks.values()))

    def _replace_connection(self, executor, sender):
        """
        A running executor subscribes again: stop waiting for it, and drop
        the connection it had if it still has one (one per executor).
        """
        executor.cancel_reregistration_timer()
        old = executor.pid
        self.log.info("Executor {executor_id} of framework {framework_id} subscribed again "
                      "from {sender}", executor_id=executor.id,
                      framework_id=executor.framework_id, sender=str(sender),
                      replaced=str(old) if old is not None else None)
        if old is not None and old != sender:
            # Forgotten first: the lost connection is then not this executor's.
            del self._executors_by_pid[old]
            self.node.disconnect(old)

    def _resend_undelivered(self, framework, executor, listed):
        """
        Send again the tasks the slave sent that are still staging and that
        the resubscribed executor does not list (C{listed}, ids): it never
        saw them.  Tasks of a group go again together; one killed meanwhile
        is killed here instead (with the rest of its group).
        """
        unseen = [task_id for task_id in executor.staging if task_id not in listed]
        killed = False
        sent_again = set()
        for task_id in unseen:
            if task_id in sent_again:
                continue
            sent_in = executor.staging[task_id][1]
            grouped = sent_in is not None
            group = [each for each in sent_in if each in unseen] if grouped else [task_id]
            sent_again.update(group)
            infos = [executor.staging[each][0] for each in group]
            kills = executor.pending_kills.intersection(group)
            if kills:
                executor.pending_kills.difference_update(group)
                for info in infos:
                    self._send_slave_update(framework.id, executor.id, info.task_id,
                                            mesos_pb2.TASK_KILLED,
                                            "Killed before it was delivered to the executor",
                                            None)
                killed = True
                continue
            self.log.info("Sending task(s) {task_ids} again to executor {executor_id}: it did "
                          "not list them when it subscribed again", task_ids=", ".join(group),
                          executor_id=executor.id)
            self._send_tasks(framework, executor, infos, grouped)
        if killed:
            self._shutdown_if_idle_command_executor(framework, executor)

    def _send_pending_kills(self, framework, executor):
        """
        Pass on the kills of sent tasks that came while the executor was
        disconnected.
        """
        kills, executor.pending_kills = executor.pending_kills, set()
        for task_id in sorted(kills):
            if task_id in executor.tasks and executor.connected:
                self.node.send(executor.pid, internal.KillTaskMessage(
                    framework_id=mesos_pb2.FrameworkID(value=framework.id),
                    task_id=mesos_pb2.TaskID(value=task_id)))

    def _executor_disconnected(self, executor):
        """
        The connection of a registered executor broke.  A running one is
        disconnected: its process lives on, tasks for it wait, and it has
        C{executor_reregistration_timeout} seconds to subscribe again.  One
        shutting down has only its exit left to come; one whose process
        has exited ends now.
        """
        framework = self.frameworks[executor.framework_id]
        del self._executors_by_pid[executor.pid]
        executor.pid = None
        if executor.exit is not None:
            # Its process had ended: everything it sent has now been read.
            self._executor_ended(executor.exit, framework, executor)
            return
        if executor.state != RUNNING:
            return
        self.log.warn("Lost the connection of executor {executor_id} of framework "
                      "{framework_id}; waiting {timeout:g} s for it to subscribe again",
                      executor_id=executor.id, framework_id=framework.id,
                      timeout=self.executor_reregistration_timeout)
        executor.reregistration_timer = self.reactor.callLater(
            self.executor_reregistration_timeout, self._reregistration_timeout,
            framework, executor)

    def _reregistration_timeout(self, framework, executor):
        executor.reregistration_timer = None
        if executor.state != RUNNING or executor.connected:
            return
        self.log.warn("Executor {executor_id} of framework {framework_id} did not subscribe "
                      "again in time; killing it", executor_id=executor.id,
                      framework_id=framework.id)
        executor.state = TERMINATING
        executor.termination = (
            lost_state(framework, mesos_pb2.TASK_GONE),
            Status.REASON_EXECUTOR_REREGISTRATION_TIMEOUT,
            f"Executor did not subscribe again within {self.executor_reregistration_timeout:g} s "
            "of losing its connection")
        self._destroy_container(framework, executor)
