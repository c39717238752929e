"""
The slave: registers with the master, runs executors through an isolator,
hands them tasks, and relays their status updates reliably.

The message flows it follows are described in ``docs/flows.md``.
"""

import os
import random
import sys
import uuid
from collections import deque

from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw import __version__, constants
from mesos_tw.counters import count_state, new_counters
from mesos_tw.isolation.monitor import ResourceMonitor
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.dispatch import Dispatcher
from mesos_tw.protocols.network import IMessageReceiver
from mesos_tw.authentication.client import ClientAuthentication
from mesos_tw.retry import RetryWithBackoff
from mesos_tw.slave._checkpointing import SlaveCheckpointing
from mesos_tw.slave._executor_management import ExecutorManagement
from mesos_tw.slave._recovery import SlaveRecovery, current_boot_id
from mesos_tw.slave._sandboxes import SandboxCollection
from mesos_tw.slave._subscriptions import ExecutorSubscriptions
from mesos_tw.slave.fetcher import Fetcher
from mesos_tw.slave.gc import GarbageCollector, disk_usage
from mesos_tw.slave.state import TERMINAL_STATES
from mesos_tw.slave.status_updates import StatusUpdateManager

__all__ = ["Slave"]

Status = mesos_pb2.TaskStatus

#: Registration life cycle.
DISCONNECTED, REGISTERING, REGISTERED, TERMINATING_SLAVE = (
    "disconnected", "registering", "registered", "terminating")


def _new_uuid():
    return uuid.uuid4().bytes


@implementer(IMessageReceiver)
class Slave(ExecutorManagement, ExecutorSubscriptions, SlaveCheckpointing, SlaveRecovery,
            SandboxCollection):
    """
    A slave offering C{resources} to the master its C{detector} finds.

    @param node: its L{mesos_tw.protocols.network.IMessageNode}
        (C{slave(1)@ip:port}); the slave becomes its receiver.
    @param detector: an C{IMasterDetector}.
    @param isolator: an L{mesos_tw.isolation.interface.IIsolator}.
    @param resources: a L{mesos_tw.resources.Resources}; C{attributes} a C{{name: text}} dict.
    @param executor_reregistration_timeout: seconds an executor whose
        connection broke has to subscribe again before it is shut down.
    @param executor_exit_read_timeout: seconds the slave goes on reading
        the connection of an executor whose process has ended, before it
        acts on the exit.
    @param resource_monitoring_interval: seconds between samples of the
        executors' usage (L{monitor}).
    @param switch_user: run executors as their framework's user.
    @param python: the interpreter that runs the built-in command executor.
    @param environ: the environment executors inherit (default: ours).
    @param new_uuid: makes 16 random bytes (status update and run ids).
    @param fetcher: fetches executors' URIs into their sandboxes (a
        L{Fetcher} on C{reactor} by default).
    @param recover: C{"reconnect"} to resume the checkpointed executors
        that still run, C{"cleanup"} to kill them (C{--recover}).
    @param strict: refuse to start when checkpointed state cannot be read
        (else skip what cannot, saying so).
    @param recovery_timeout: how long executors of checkpointing
        frameworks wait for a restarting slave (given to them).
    @param boot_id: this boot of the machine (read from the kernel by
        default); a different one at recovery means it rebooted.
    @param gc_delay: seconds after which an ended run's sandbox is
        removed (C{--gc_delay}), shortened as the disk fills.
    @param disk_watch_interval: seconds between checks of the disk usage.
    @param gc_disk_headroom: the fraction of the disk kept free.
    @param disk_usage: C{disk_usage(path)} is the fraction in use of the
        filesystem holding C{path}.
    @param sandbox_log_max_size: bytes an executor's C{stdout} or
        C{stderr} may reach before it is rotated (L{None}: never).
    @param jitter: the random source of the registration back-off (see
        L{RetryWithBackoff}).
    @param executor_secrets: an L{ExecutorSecrets} whose tokens executors
        are given and the v1 executor API asks for
        (C{--authenticate_http_executors}), or L{None}.
    @param credential: the C{mesos_pb2.Credential} to authenticate with
        before registering (C{--credential}), or L{None}.  A master that
        refuses it stops the slave, as Mesos's exits.
    """

    log = Logger()

    def __init__(
        self,
        reactor,
        node,
        detector,
        isolator,
        work_dir,
        resources,
        attributes=None,
        hostname=None,
        executor_shutdown_grace_period=constants.EXECUTOR_SHUTDOWN_GRACE_PERIOD,
        executor_registration_timeout=constants.EXECUTOR_REGISTRATION_TIMEOUT,
        executor_reregistration_timeout=constants.EXECUTOR_REREGISTRATION_TIMEOUT,
        executor_exit_read_timeout=constants.EXECUTOR_EXIT_READ_TIMEOUT,
        resource_monitoring_interval=1.0,
        switch_user=False,
        python=sys.executable,
        environ=None,
        new_uuid=_new_uuid,
        fetcher=None,
        recover="reconnect",
        strict=True,
        recovery_timeout=constants.RECOVERY_TIMEOUT,
        boot_id=None,
        gc_delay=constants.GC_DELAY,
        disk_watch_interval=constants.DISK_WATCH_INTERVAL,
        gc_disk_headroom=constants.GC_DISK_HEADROOM,
        disk_usage=disk_usage,
        sandbox_log_max_size=None,
        jitter=random.random,
        credential=None,
        executor_secrets=None,
    ):
        self.reactor = reactor
        self.node = node
        node.receiver = self
        self.detector = detector
        self.isolator = isolator
        self.work_dir = work_dir
        self.resources = resources
        self.attributes = dict(attributes or {})
        self.hostname = hostname or node.upid.host
        self.executor_shutdown_grace_period = executor_shutdown_grace_period
        self.executor_registration_timeout = executor_registration_timeout
        self.executor_reregistration_timeout = executor_reregistration_timeout
        self.executor_exit_read_timeout = executor_exit_read_timeout
        self.switch_user = switch_user
        self.python = python
        self.environ = dict(os.environ if environ is None else environ)
        self.new_uuid = new_uuid
        self.fetcher = Fetcher(reactor) if fetcher is None else fetcher
        self.recover = recover
        self.strict = strict
        self.recovery_timeout = recovery_timeout
        self.boot_id = boot_id if boot_id is not None else current_boot_id()
        #: Whether it is still recovering its checkpointed state.
        self.recovering = False
        #: How many checkpointed entries recovery skipped (non-strict).
        self.recovery_errors = 0
        self._waiting_executors = set()
        #: (framework id, task id) the slave answered TASK_LOST for when a
        #: master asked about them (the latest few, oldest first).
        self._reconciled = {}
        self._retiring_id = False
        self.gc_delay = gc_delay
        self.disk_watch_interval = disk_watch_interval
        self.gc_disk_headroom = gc_disk_headroom
        self.disk_usage = disk_usage
        self.gc = GarbageCollector(reactor, self._in_use)
        self._disk_watch = None
        self.executor_secrets = executor_secrets
        self.sandbox_log_max_size = sandbox_log_max_size
        self._log_rotation = None
        self.id = None
        self.master = None
        self.registration = DISCONNECTED
        self._ended = None
        self.start_time = reactor.seconds()
        self.frameworks = {}
        self.completed_frameworks = deque(maxlen=constants.MAX_COMPLETED_FRAMEWORKS)
        self.stats = new_counters()
        self.status_updates = StatusUpdateManager(reactor, self._forward_update)
        self._executors_by_pid = {}
        self._registration = RetryWithBackoff(reactor, self._register, jitter=jitter)
        self._authentication = ClientAuthentication(
            reactor, node, credential, self._registration.start, self._refused)
        self._ping_timeout = None
        self._ping_timer = None
        self.monitor = ResourceMonitor(
            reactor, isolator, self._running_executors, resource_monitoring_interval,
            sampled=self._report_usage)
        self._usage_reported = False
        #: (host, NetworkInfo) of the address given to updates without one.
        self._network_info_made = None
        self.dispatcher = Dispatcher({
            internal.SlaveRegisteredMessage: self._registered,
            internal.SlaveReregisteredMessage: self._registered,
            internal.PingSlaveMessage: self._ping,
            internal.RunTaskMessage: self._run_task,
            internal.RunTaskGroupMessage: self._run_task_group,
            internal.ShutdownExecutorMessage: self._shutdown_executor_request,
            internal.KillTaskMessage: self._kill_task,
            internal.RegisterExecutorMessage: self._register_executor,
            internal.ReregisterExecutorMessage: self._reregister_executor,
            internal.StatusUpdateMessage: self._status_update,
            internal.StatusUpdateAcknowledgementMessage: self._acknowledgement,
            internal.FrameworkToExecutorMessage: self._framework_to_executor,
            internal.ExecutorToFrameworkMessage: self._executor_to_framework,
            internal.ShutdownFrameworkMessage: self._shutdown_framework,
            internal.UpdateFrameworkMessage: self._update_framework,
            internal.ShutdownMessage: self._shutdown,
        }, self.log)

    @property
    def pid(self):
        """
        The slave's UPID.
        """
        return self.node.upid

    @property
    def registered(self):
        """
        Whether the master has acknowledged our registration.
        """
        return self.registration == REGISTERED

    @property
    def terminating(self):
        """
        Whether the slave is leaving the cluster (L{stop}).
        """
        return self.registration == TERMINATING_SLAVE

    def info(self):
        """
        Our C{SlaveInfo}.
        """
        info = mesos_pb2.SlaveInfo(
            hostname=self.hostname, resources=self.resources.to_protobuf(), port=self.pid.port)
        for name, value in self.attributes.items():
            attribute = info.attributes.add(name=name)
            try:
                attribute.scalar.value = float(value)
                attribute.type = mesos_pb2.Value.SCALAR
            except ValueError:
                attribute.type = mesos_pb2.Value.TEXT
                attribute.text.value = value
        if self.id is not None:
            info.id.value = self.id
        return info

    def start(self):
        """
        Recover what was checkpointed, then start looking for the master.
        """
        self.recovering = True
        d = maybeDeferred(self._recover)
        d.addCallback(lambda _: self._schedule_leftover_sandboxes())
        d.addCallback(lambda _: self._start_disk_watch())
        d.addCallback(lambda _: self._start_log_rotation())
        d.addCallback(lambda _: self.detector.start(self._new_master))
        # The first sample (a read of every process's /proc files) one
        # interval later: at a restart it would delay re-registering.
        d.addCallback(lambda _: self.monitor.start(now=False))
        return d

    def stop(self):
        """
        Shut down (Mesos's C{Slave::shutdown}: C{SIGUSR1}, the master's
        C{ShutdownMessage}): unregister and kill every executor, so a
        later start recovers nothing and registers as a new slave.

        @return: a Deferred that fires when the executors are gone.
        """
        return self._end(everything=True)

    def terminate(self):
        """
        Stop this process but leave the checkpointing frameworks' executors
        running (Mesos's C{Slave::finalize}: a C{SIGTERM}, a stop before an
        upgrade): nothing is unregistered or forgotten, so the next start
        recovers them.  Executors of frameworks that do not checkpoint
        could not be recovered: they are killed.

        @return: a Deferred that fires when those executors are gone.
        """
        return self._end(everything=False)

    def _end(self, everything):
        if self._ended is not None:
            # Already ending (the master's ShutdownMessage, then twistd
            # stopping): wait for the same end.
            waiter = Deferred()
            self._ended.addBoth(lambda result: (waiter.callback(None), result)[1])
            return waiter
        if everything and self.registration == REGISTERED:
            self.node.send(self.master, internal.UnregisterSlaveMessage(
                slave_id=mesos_pb2.SlaveID(value=self.id)))
            # The master forgets this id: the next start registers afresh.
            self._forget_slave_id()
        self.registration = TERMINATING_SLAVE
        kills = [maybeDeferred(self.detector.stop)]
        self._registration.stop()
        self._authentication.stop()
        self._cancel_ping_timer()
        self.status_updates.stop()
        self.monitor.stop()
        self._stop_gc()
        for framework in list(self.frameworks.values()):
            for executor in list(framework.executors.values()):
                executor.cancel_timers()
                if everything or not framework.info.checkpoint:
                    kills.append(self._destroy_container(framework, executor))
        d = gatherResults(kills, consumeErrors=True)
        # An isolator may have a process of its own to stop (a launcher).
        stop_isolator = getattr(self.isolator, "stop", None)
        if stop_isolator is not None:
            d.addBoth(lambda _: stop_isolator())
        self._ended = d
        return d

    # Registration.

    def _new_master(self, upid):
        if self.registration == TERMINATING_SLAVE:
            return
        self.log.info("New master detected at {master}", master=str(upid))
        self.master = upid
        self._registration.stop()
        self._authentication.stop()
        if upid is None:
            self.registration = DISCONNECTED
            return
        self.registration = REGISTERING
        self._authentication.start(upid)

    def _refused(self, message):
        self.log.critical("{why}; this slave stops", why=message)
        self.stop()

    def _register(self):
        if self.registration != REGISTERING or self.master is None:
            self._registration.stop()
            return
        self.log.debug("Registering with master {master}", master=str(self.master))
        if self.id is None:
            self.node.send(self.master, internal.RegisterSlaveMessage(slave=self.info()))
        else:
            self.node.send(self.master, self._reregister_message())

    def _register_again(self):
        """
        Register (again) with the current master, if any.
        """
        self._registration.stop()
        if self.master is None:
            self.registration = DISCONNECTED
            return
        self.registration = REGISTERING
        self._authentication.start(self.master)

    def _registered(self, sender, message):
        if sender != self.master or self.registration == TERMINATING_SLAVE:
            self.log.warn("Ignoring registration from {sender}: not our master, or shutting down",
                          sender=str(sender))
            return
        self._registration.stop()
        if self.registration != REGISTERED:
            self.log.info("Registered with master {master} as slave {slave_id}",
                          master=str(sender), slave_id=message.slave_id.value)
        if self.id != message.slave_id.value:
            self.id = message.slave_id.value
            self._checkpoint_slave()
        self.registration = REGISTERED
        if message.HasField("connection"):
            self._ping_timeout = message.connection.total_ping_timeout_seconds or None
        self._expect_ping()
        self.status_updates.flush()
        for reconcile in getattr(message, "reconciliations", ()):
            self._reconcile_with_master(reconcile)
        self._maybe_register_afresh()

    def _reconcile_with_master(self, reconcile):
        """
        As Mesos's agent: the master asks about tasks it has that our
        re-registration did not report; those we do not have end
        C{TASK_LOST} (C{TASK_DROPPED} for a partition-aware framework),
        reliably and once, so the master can let them go.  Those we have (their
        launch crossed our re-registration) need nothing: their updates
        follow.
        """
        framework_id = reconcile.framework_id.value
        framework = self.frameworks.get(framework_id)
        known = set()
        if framework is not None:
            for executor in list(framework.executors.values()) + list(
                    framework.completed_executors):
                known.update(executor.tasks)
                known.update(executor.queued_tasks)
                known.update(task.task_id.value for task in executor.completed_tasks)
        aware = any(capability.type == mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE
                    for capability in reconcile.framework.capabilities)
        for status in reconcile.statuses:
            # Already answered (a retried re-registration is asked again
            # before our first answer reached the master, or even after it
            # was acknowledged), or its end is on its way (it ended here,
            # say its executor never registered): not twice.
            key = (framework_id, status.task_id.value)
            if status.task_id.value not in known and key not in self._reconciled \
                    and not self.status_updates.has_stream(*key):
                self._reconciled[key] = None
                while len(self._reconciled) > constants.MAX_RECONCILED_TASKS:
                    del self._reconciled[next(iter(self._reconciled))]
                self.log.warn("Task {task_id} of framework {framework_id} is unknown here: "
                              "reconciling it as lost", task_id=status.task_id.value,
                              framework_id=framework_id)
                self._send_slave_update(
                    framework_id, None, status.task_id,
                    mesos_pb2.TASK_DROPPED if aware else mesos_pb2.TASK_LOST,
                    "Reconciliation: task unknown to the agent", Status.REASON_RECONCILIATION)

    def _ping(self, sender, message):
        self.node.send(sender, internal.PongSlaveMessage())
        if sender == self.master:
            self._expect_ping()

    def _expect_ping(self):
        """
        Expect the master's next ping within the total ping timeout it gave
        (Mesos's agent does the same): a master that found this slave
        unreachable stops pinging it, and the slave must then register
        again to be admitted back with its tasks.
        """
        self._cancel_ping_timer()
        # A stopped slave waits for nothing (a ping may still reach it).
        if self._ping_timeout is not None and self.registration != TERMINATING_SLAVE:
            self._ping_timer = self.reactor.callLater(self._ping_timeout, self._no_ping)

    def _cancel_ping_timer(self):
        if self._ping_timer is not None and self._ping_timer.active():
            self._ping_timer.cancel()
        self._ping_timer = None

    def _no_ping(self):
        self._ping_timer = None
        if self.registration != REGISTERED:
            return
        self.log.warn("No ping from master {master} in {timeout}s; registering again",
                      master=str(self.master), timeout=self._ping_timeout)
        self._new_master(self.master)

    def _shutdown(self, sender, message):
        if sender != self.master:
            self.log.warn("Ignoring shutdown from {sender}: not our master", sender=str(sender))
            return
        self.log.warn("The master told this slave to shut down: {why}", why=message.message)
        self.stop()

    # The message network.

    def message_received(self, sender, message):
        """
        Dispatch a message to its handler: see L{Dispatcher} for unknown
        messages and handlers that raise.
        """
        if sender == self.master and self._authentication.received(sender, message):
            return
        self.dispatcher.dispatch(sender, message)

    def peer_lost(self, upid):
        """
        Losing the master means registering again; losing an executor's
        connection leaves it disconnected, with a while to subscribe again
        (its process's exit, if that is what it was, comes from the
        isolator).
        """
        if upid == self.master and self.registration in (REGISTERED, REGISTERING):
            self.log.warn("Lost the master {master}; re-registering", master=str(upid))
            self.registration = REGISTERING
            # The master forgets an authentication with its connection.
            self._registration.stop()
            self._authentication.start(upid, delay=constants.REGISTRATION_RETRY_INTERVAL)
            return
        executor = self._executors_by_pid.get(upid)
        if executor is not None:
            self._executor_disconnected(executor)

    # Status updates.

    def _send_slave_update(self, framework_id, executor_id, task_id, state, text, reason):
        """
        A status update the slave makes itself (kills of queued tasks, lost
        executors), sent reliably like an executor's.
        """
        now = self.reactor.seconds()
        uuid = self.new_uuid()
        status = mesos_pb2.TaskStatus(
            task_id=task_id, state=state, message=text, timestamp=now, uuid=uuid,
            slave_id=mesos_pb2.SlaveID(value=self.id), source=Status.SOURCE_SLAVE)
        if reason is not None:
            status.reason = reason
        if executor_id is not None:
            status.executor_id.value = executor_id
        # The update holds a copy of the status: it must be complete by now.
        update = internal.StatusUpdate(
            framework_id=mesos_pb2.FrameworkID(value=framework_id), status=status,
            timestamp=now, uuid=uuid, slave_id=status.slave_id)
        if executor_id is not None:
            update.executor_id.value = executor_id
        self._record_update(update)

    def _status_update(self, sender, message):
        executor = self._executors_by_pid.get(sender)
        if executor is None:
            self.stats["invalid_status_updates"] += 1
            self.log.warn("Ignoring a status update from {sender}: not one of our executors",
                          sender=str(sender))
            return
        self._executor_update(sender, executor, message.update)

    def _executor_update(self, sender, executor, update):
        """
        Take an update from C{executor} (connected at C{sender}) and
        acknowledge it to the executor: one it sent just now, or one it
        listed as unacknowledged when it subscribed again (which the slave
        may have already: it is then a duplicate, acknowledged again).
        """
        if update.framework_id.value != executor.framework_id:
            self.stats["invalid_status_updates"] += 1
            self.log.warn("Ignoring a status update from executor {executor_id}: it names "
                          "framework {framework_id}, not its own", executor_id=executor.id,
                          framework_id=update.framework_id.value)
            return
        update.slave_id.value = self.id
        update.status.slave_id.value = self.id
        # The sender says which executor this is, whatever the update claims.
        update.executor_id.CopyFrom(executor.info.executor_id)
        task_id = update.status.task_id.value
        if (task_id not in executor.tasks
                and any(task.task_id.value == task_id for task in executor.completed_tasks)
                and not self.status_updates.has_stream(executor.framework_id, task_id)):
            # Its terminal update was acknowledged and its stream is gone,
            # so a copy of an update the slave had cannot be recognised by
            # its uuid any more; nothing may follow a terminal update.
            self.log.info("Dropping a status update of task {task_id}: the task ended and "
                          "its updates were all acknowledged", task_id=task_id)
        else:
            self._record_update(update)
        # Built from the ids' text: copying the id messages costs twice as
        # much, and an executor's every update is acknowledged.
        ack = internal.StatusUpdateAcknowledgementMessage(uuid=update.uuid)
        ack.slave_id.value = self.id
        ack.framework_id.value = executor.framework_id
        ack.task_id.value = task_id
        self.node.send(sender, ack)

    def _record_update(self, update):
        framework = self.frameworks.get(update.framework_id.value)
        if framework is not None and framework.shutting_down:
            return
        self._fill_container_status(framework, update)
        executor = framework.executors.get(update.executor_id.value) if framework else None
        status = update.status
        task_id = status.task_id.value
        path = self._updates_path(framework, executor, task_id)
        if not self.status_updates.update(update, path):
            return
        self.stats["valid_status_updates"] += 1
        state = status.state
        count_state(self.stats, state)
        if executor is None:
            return
        task = executor.tasks.get(task_id)
        if task is not None:
            task.state = state
            if state != mesos_pb2.TASK_STAGING:
                executor.staging.pop(task_id, None)
            if state in TERMINAL_STATES:
                executor.completed_tasks.append(executor.tasks.pop(task_id))
                self._update_container(framework, executor)

    def _fill_container_status(self, framework, update):
        """
        Give C{update} Mesos's C{container_status}: the id of its executor's
        run (Mesos's container id) and, unless the executor gave its own,
        the slave's address as the container's network, as Mesos's slave
        fills it in for every update it forwards.  An update of an executor
        the slave does not know (any more) gets none.
        """
        executor = None
        if framework is not None and update.HasField("executor_id"):
            executor = framework.executors.get(update.executor_id.value)
        if executor is None:
            return
        container = update.status.container_status
        container.container_id.value = executor.run_id
        if not container.network_infos:
            container.network_infos.append(self._network_info())

    def _network_info(self):
        """
        The slave's address as a C{NetworkInfo}, made once per address
        (appending it copies it: one call per update rather than two
        additions and a field).
        """
        host = self.pid.host
        made = self._network_info_made
        if made is None or made[0] != host:
            info = mesos_pb2.NetworkInfo()
            info.ip_addresses.add(ip_address=host)
            made = self._network_info_made = (host, info)
        return made[1]

    def _forward_update(self, update):
        if self.registration == REGISTERED:
            self.node.send(self.master, internal.StatusUpdateMessage(
                update=update, pid=str(self.pid)))

    # Resource usage.

    def _report_usage(self, samples):
        """
        Tell the master the latest usage of every running executor, after
        each round of sampling: while any runs, and once more when none is
        left, so that the master forgets the last ones.
        """
        if not self.registered or not (samples or self._usage_reported):
            return
        message = internal.ExecutorUsageMessage(slave_id=mesos_pb2.SlaveID(value=self.id))
        for sample in samples:
            if not sample.statistics.IsInitialized():
                # It could not be sent (an isolator left out the timestamp).
                self.log.warn("Not reporting the usage of executor {executor_id}: its "
                              "statistics lack {missing}", executor_id=sample.executor_id,
                              missing=", ".join(sample.statistics.FindInitializationErrors()))
                continue
            message.executors.add(
                framework_id=mesos_pb2.FrameworkID(value=sample.framework_id),
                executor_id=mesos_pb2.ExecutorID(value=sample.executor_id),
                executor_name=sample.executor_info.name, statistics=sample.statistics)
        self.node.send(self.master, message)
        self._usage_reported = bool(samples)

    def _acknowledgement(self, sender, message):
        if sender in self._executors_by_pid:
            self.log.warn("Ignoring an acknowledgement from executor {sender}: only the "
                          "framework acknowledges updates", sender=str(sender))
            return
        framework_id = message.framework_id.value
        self.status_updates.acknowledge(framework_id, message.task_id.value, message.uuid)
        framework = self.frameworks.get(framework_id)
        if framework is not None:
            self._maybe_complete(framework)
        self._maybe_register_afresh()

    # State for the HTTP endpoints.

    def state(self):
        """
        The slave as the C{/slave(1)/state} JSON object (Mesos's names).
        """
        return {
            "version": __version__,
            "start_time": self.start_time,
            "id": self.id or "",
            "pid": str(self.pid),
            "hostname": self.hostname,
            "resources": self.resources.to_json(),
            "attributes": self.attributes,
            "master_hostname": self.master.host if self.master else "",
            **self.stats,
            "frameworks": [f.to_json() for f in self.frameworks.values()],
            "completed_frameworks": [f.to_json() for f in self.completed_frameworks],
        }
