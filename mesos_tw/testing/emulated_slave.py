"""
Emulated slaves: the slave's side of the wire protocol with no processes
behind it, so that one process can connect thousands of them to a real
master over real TCP (scale tests and benchmarks, like the NSDI paper's
emulated slaves).

An emulated slave registers, answers pings, and runs tasks in name only: a
task goes C{TASK_RUNNING} at once and C{TASK_FINISHED} after its planned
duration, the number of seconds its C{data} holds as ASCII (or the slave's
default).  Its updates carry a uuid but no slave pid, so schedulers do not
acknowledge them (nothing here listens) and it never re-sends them; one
made while no master is known waits until a master answers.  A task its
master asks about (a reconciliation, after a re-registration that did not
report it) that it does not run ends C{TASK_LOST}, as on a Mesos slave.
"""

import uuid

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw import constants
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.dispatch import Dispatcher
from mesos_tw.protocols.network import IMessageReceiver, MessageNode
from mesos_tw.protocols.upid import UPID
from mesos_tw.retry import RetryWithBackoff

__all__ = ["EmulatedSlave", "planned_duration"]


def planned_duration(task, default):
    """
    The seconds a task should run: its C{data} as a number, else
    C{default}.
    """
    try:
        return max(0.0, float(task.data.decode("ascii")))
    except (UnicodeDecodeError, ValueError):
        return default


@implementer(IMessageReceiver)
class EmulatedSlave:
    """
    One emulated slave of the master at C{master} (a L{UPID}).

    @param number: makes the slave's UPID (C{slave(<number>)}) unique.
    @param attributes: C{{name: text}} it advertises (a C{rack}, say).
    @param node: its message node (by default a TCP L{MessageNode} that
        does not listen).
    @ivar slave_id: its id once registered.
    @ivar running: C{{(framework_id, task_id): pending finish call}}.
    @ivar attempts: the (re-)registrations it sent.
    @ivar lost_master: how often its master's connection closed or could
        not be made.
    @ivar registered_after: seconds from the last leader it was told to
        follow (L{follow}) to that leader's answer; L{None} until answered.
    @param on_answered: if given, called with 1 when C{registered_after}
        is set and with -1 when it is cleared again (a new leader to
        follow), so that a caller can count the slaves answered without
        visiting them all.
    """

    log = Logger()

    def __init__(self, reactor, master, number, resources, hostname=None,
                 default_duration=30.0, node=None, attributes=None, reregistration_delay=0.0,
                 lost_master_delay=1.0, retry_intervals=None, on_answered=None):
        self.reactor = reactor
        self.master = master
        self.resources = resources
        self.hostname = hostname or f"emulated-{number}"
        self.default_duration = default_duration
        self.attributes = dict(attributes or {})
        self.reregistration_delay = reregistration_delay
        self.lost_master_delay = lost_master_delay
        self.node = node or MessageNode(reactor, UPID(f"slave({number})", "127.0.0.1", 0), None)
        self.node.receiver = self
        self.slave_id = None
        self.running = {}
        # What a re-registration reports: (framework id, task id) -> Task.
        self.tasks = {}
        # (first, largest) cap on the jittered wait before trying again.
        initial, maximum = retry_intervals or (constants.REGISTRATION_RETRY_INTERVAL,
                                               constants.REGISTRATION_BACKOFF_MAX)
        self._registration = RetryWithBackoff(reactor, self._register, initial, maximum)
        self.dispatcher = Dispatcher({
            internal.SlaveRegisteredMessage: self._registered,
            internal.SlaveReregisteredMessage: self._registered,
            internal.PingSlaveMessage: self._ping,
            internal.RunTaskMessage: self._run_task,
            internal.KillTaskMessage: self._kill_task,
            internal.ShutdownFrameworkMessage: self._shutdown_framework,
        }, self.log, with_sender=False)
        self._waiting = []
        self._slave_info = None
        # What _register sends, made again only when its content changes
        # (an id, a task started or ended): thousands of slaves retry it.
        self._registration_message = None
        self.attempts = 0
        self.lost_master = 0
        # Updates made while no master is known, sent once one answers.
        self._unsent = []
        # (framework id, task id) of the tasks a master asked about that
        # were answered lost: answered once.
        self._reconciled = set()
        self.registered_after = None
        self._followed_at = None
        self._on_answered = on_answered or (lambda change: None)

    def start(self):
        """
        Register with the master (retrying with backoff until it answers).
        """
        self._registration.start()

    def stop(self):
        """
        Cancel every timer and close the connection.
        """
        self._registration.stop()
        for call in self.running.values():
            if call.active():
                call.cancel()
        self.running.clear()
        self.node.disconnect(self.master)

    def follow(self, master):
        """
        A detector named C{master} (a L{UPID}, or L{None} for none) as the
        leader: register with it now; re-register (if we have an id) after
        a random wait of up to C{reregistration_delay} seconds, as a Mesos
        slave waits up to C{--registration_backoff_factor} after detecting
        a new master, so that thousands of slaves do not all connect at
        once.
        """
        if master == self.master:
            return
        self.master = master
        self._followed_at = self.reactor.seconds()
        if self.registered_after is not None:
            self.registered_after = None
            self._on_answered(-1)
        if master is None:
            self._registration.stop()
        else:
            self._registration.start(
                delay=self.reregistration_delay if self.slave_id is not None else 0.0)

    def when_registered(self):
        """
        A Deferred that fires once the slave is registered.
        """
        if self.slave_id is not None:
            return succeed(self.slave_id)
        d = Deferred()
        self._waiting.append(d)
        return d

    def _info(self):
        """
        The C{SlaveInfo} it registers with (made once: it never changes).
        """
        if self._slave_info is None:
            info = self._slave_info = mesos_pb2.SlaveInfo(
                hostname=self.hostname, resources=self.resources.to_protobuf())
            for name, value in self.attributes.items():
                info.attributes.add(name=name, type=mesos_pb2.Value.TEXT).text.value = value
        return self._slave_info

    def _register(self):
        self.attempts += 1
        if self._registration_message is None:
            info = self._info()
            if self.slave_id is None:
                self._registration_message = internal.RegisterSlaveMessage(slave=info)
            else:
                self._registration_message = internal.ReregisterSlaveMessage(
                    slave_id=mesos_pb2.SlaveID(value=self.slave_id), slave=info,
                    tasks=list(self.tasks.values()))
        self.node.send(self.master, self._registration_message)

    # The message network.

    def message_received(self, sender, message):
        """
        Handle what the master sends (an unexpected message is logged).
        """
        self.dispatcher.dispatch(sender, message)

    def peer_lost(self, upid):
        """
        The master's connection closed: register again, after between
        C{lost_master_delay} seconds and twice that (unless a detector
        names a new leader first: see L{follow}).  Not sooner: a Mesos
        slave only waits for its detector, and a knock on a dead master's
        port, thousands at once, costs just when the new leader's news
        must get through.
        """
        if upid == self.master:
            self.lost_master += 1
            self._registration.start(delay=self.lost_master_delay,
                                     minimum=self.lost_master_delay)

    # Handlers.

    def _registered(self, message):
        self._registration.stop()
        # Its id first: the updates answering reconciliations carry it.
        if self.slave_id != message.slave_id.value:
            self.slave_id = message.slave_id.value
            self._registration_message = None
        unsent, self._unsent = self._unsent, []
        for update in unsent:
            self.node.send(self.master, update)
        for reconcile in getattr(message, "reconciliations", ()):
            self._reconcile(reconcile)
        if self._followed_at is not None and self.registered_after is None:
            self.registered_after = self.reactor.seconds() - self._followed_at
            self._on_answered(1)
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(self.slave_id)

    def _ping(self, message):
        if self.master is not None:
            self.node.send(self.master, internal.PongSlaveMessage())

    def _run_task(self, message):
        key = (message.framework_id.value, message.task.task_id.value)
        self._registration_message = None
        self.tasks[key] = internal.Task(
            name=message.task.name, task_id=message.task.task_id,
            framework_id=message.framework_id, slave_id=message.task.slave_id,
            state=mesos_pb2.TASK_RUNNING, resources=message.task.resources)
        self._update(message.framework_id, message.task.task_id, mesos_pb2.TASK_RUNNING)
        self.running[key] = self.reactor.callLater(
            planned_duration(message.task, self.default_duration), self._finish, key,
            message.framework_id, message.task.task_id)

    def _finish(self, key, framework_id, task_id):
        self.running.pop(key, None)
        self._forget(key)
        self._update(framework_id, task_id, mesos_pb2.TASK_FINISHED)

    def _kill_task(self, message):
        key = (message.framework_id.value, message.task_id.value)
        call = self.running.pop(key, None)
        self._forget(key)
        if call is not None and call.active():
            call.cancel()
        self._update(message.framework_id, message.task_id, mesos_pb2.TASK_KILLED)

    def _shutdown_framework(self, message):
        framework_id = message.framework_id.value
        for key in [k for k in self.running if k[0] == framework_id]:
            self._forget(key)
            call = self.running.pop(key)
            if call.active():
                call.cancel()

    def _forget(self, key):
        """
        The task C{key} no longer runs here: no longer reported.
        """
        if self.tasks.pop(key, None) is not None:
            self._registration_message = None

    def _reconcile(self, reconcile):
        """
        As a Mesos slave: the master asks about tasks its re-registration
        did not report; those it does not run end C{TASK_LOST}
        (C{TASK_DROPPED} for a partition-aware framework), once.
        """
        framework_id = reconcile.framework_id.value
        aware = any(capability.type == mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE
                    for capability in reconcile.framework.capabilities)
        for status in reconcile.statuses:
            key = (framework_id, status.task_id.value)
            if key in self.tasks or key in self._reconciled:
                continue
            self._reconciled.add(key)
            self._update(reconcile.framework_id, status.task_id,
                         mesos_pb2.TASK_DROPPED if aware else mesos_pb2.TASK_LOST,
                         mesos_pb2.TaskStatus.REASON_RECONCILIATION)

    def _update(self, framework_id, task_id, state, reason=None):
        """
        Send a status update to the master, or keep it until a master
        answers if none is known (the detector named none).
        """
        now = self.reactor.seconds()
        slave_id = mesos_pb2.SlaveID(value=self.slave_id or "")
        status = mesos_pb2.TaskStatus(task_id=task_id, state=state, slave_id=slave_id,
                                      timestamp=now, source=mesos_pb2.TaskStatus.SOURCE_SLAVE)
        if reason is not None:
            status.reason = reason
        message = internal.StatusUpdateMessage(update=internal.StatusUpdate(
            framework_id=framework_id, slave_id=slave_id, timestamp=now,
            uuid=uuid.uuid4().bytes, status=status))
        if self.master is None:
            self._unsent.append(message)
        else:
            self.node.send(self.master, message)
