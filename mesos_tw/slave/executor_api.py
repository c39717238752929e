"""
Mesos's v1 HTTP executor API, ``POST /api/v1/executor`` on the slave's
port, in JSON or protobuf.

An executor subscribes with a SUBSCRIBE call (its C{framework_id} and
C{executor_id}, which the slave gave it in C{MESOS_FRAMEWORK_ID} and
C{MESOS_EXECUTOR_ID}) and keeps the response open: a chunked stream of
RecordIO records, the first SUBSCRIBED, then LAUNCH, LAUNCH_GROUP, KILL,
ACKNOWLEDGED, MESSAGE, SHUTDOWN, ERROR and HEARTBEAT as they happen.  Its
later calls (UPDATE, MESSAGE, HEARTBEAT) carry the same two ids and are
answered C{202 Accepted}.

Each subscription is an L{HttpExecutor}: an executor living inside the
slave process that speaks the classic executor protocol to the slave
through a message node of its own, exactly as the executor driver does, so
the slave handles HTTP executors and driver-based ones alike.  A SUBSCRIBE
registers (C{RegisterExecutorMessage}), or, when it lists tasks and
updates not yet acknowledged (an executor whose stream broke, subscribing
again), re-registers with them (C{ReregisterExecutorMessage}), as the
driver does when it reconnects.  An UPDATE becomes the
C{StatusUpdateMessage} the driver would send; the slave's acknowledgement
of it comes back as ACKNOWLEDGED.

Calls are parsed into C{mesos.v1.executor.Call} messages (JSON with the v1
names, or binary protobuf, as the C{Content-Type} says); the stream's
events are C{mesos.v1.executor.Event} messages, encoded as the SUBSCRIBE's
C{Accept} asks.
"""

import uuid

from zope.interface import implementer

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.dispatch import Dispatcher
from mesos_tw.protocols.executor_side import executor_message, executor_update
from mesos_tw.protocols.executor_pb2 import Call, Event
from mesos_tw.protocols.network import IMessageReceiver
from mesos_tw.protocols.upid import UPID
from mesos_tw.web.v1 import (
    HEARTBEAT_INTERVAL,
    JSON,
    MAX_STREAM_BACKLOG,
    CallError,
    Forbidden,
    Subscription,
    answer_errors,
    call_body,
    call_kind,
    error_response,
    parse_call,
    stream_media,
)

__all__ = ["ExecutorAPI", "HttpExecutor"]


@implementer(IMessageReceiver)
class HttpExecutor(Subscription):
    """
    One subscription: the executor side of the classic protocol, translated
    to v1 events on the subscriber's stream (a L{Subscription}).  When it
    closes, the slave goes on waiting for the executor's process to exit,
    as it does when a driver's connection drops.

    @param request: the SUBSCRIBE request, whose response is the stream.
    @param node: a message node of our own (our UPID is its UPID).
    @param slave: the slave's UPID.
    @param container_id: the executor's run id, Mesos's container id.
    @param media: the stream's encoding (C{JSON} or C{PROTOBUF}).
    @param unacknowledged: the SUBSCRIBE call's C{Call.Subscribe}: tasks
        and updates the executor has not seen acknowledged, if it is
        subscribing again.
    @param slave_id: the slave's id, if it has one, for those updates.
    """

    event_class = Event

    def __init__(self, reactor, request, node, slave, framework_id, executor_id, container_id,
                 heartbeat_interval, max_backlog=MAX_STREAM_BACKLOG, media=JSON,
                 unacknowledged=None, slave_id=None):
        Subscription.__init__(self, reactor, request, node, slave, heartbeat_interval,
                              max_backlog, media)
        self.slave = slave
        self.framework_id = mesos_pb2.FrameworkID(value=framework_id)
        self.executor_id = mesos_pb2.ExecutorID(value=executor_id)
        self.container_id = container_id
        self.unacknowledged = unacknowledged or Call.Subscribe()
        self.slave_id = slave_id
        self.subscribed = False
        self.dispatcher = Dispatcher({
            internal.ExecutorRegisteredMessage: self._subscribed,
            internal.RunTaskMessage: self._launch,
            internal.RunTaskGroupMessage: self._launch_group,
            internal.KillTaskMessage: self._kill,
            internal.FrameworkToExecutorMessage: self._message,
            internal.ShutdownExecutorMessage: self._shutdown,
            internal.StatusUpdateAcknowledgementMessage: self._acknowledged,
            internal.ReconnectExecutorMessage: self._reconnect,
        }, self.log, with_sender=False)

    def describe(self):
        """
        The executor, for the log.
        """
        return (f"Subscription of executor {self.executor_id.value} of framework "
                f"{self.framework_id.value}")

    @property
    def key(self):
        """
        C{(framework_id, executor_id)}, as strings.
        """
        return self.framework_id.value, self.executor_id.value

    def subscribe(self):
        """
        Register with the slave, as the executor driver does; or, with
        unacknowledged tasks or updates, re-register with them, as the
        driver does when it reconnects.
        """
        tasks = self.unacknowledged.unacknowledged_tasks
        updates = self.unacknowledged.unacknowledged_updates
        if tasks or updates:
            message = internal.ReregisterExecutorMessage(
                executor_id=self.executor_id, framework_id=self.framework_id, tasks=tasks,
                updates=[self.status_update(update.status) for update in updates])
        else:
            message = internal.RegisterExecutorMessage(
                framework_id=self.framework_id, executor_id=self.executor_id)
        self.node.send(self.slave, message)

    # Calls.

    def update(self, status):
        """
        Send a status update as the executor driver does (see
        L{status_update}).
        """
        self.node.send(self.slave, internal.StatusUpdateMessage(update=self.status_update(status)))

    def status_update(self, status):
        """
        The update the executor driver makes of C{status} (which it
        changes): stamped with our ids and the slave's, the executor as its
        source, the status's uuid as the update's.
        """
        return executor_update(status, self.framework_id, self.executor_id, self.slave_id,
                               self.reactor.seconds(), status.uuid, keep_timestamp=True)

    def message(self, data):
        """
        Send C{data} to the framework's scheduler (best effort).
        """
        self.node.send(self.slave, executor_message(
            self.framework_id, self.executor_id, self.slave_id, data))

    # Events.

    def message_received(self, sender, message):
        """
        Turn what the slave sends into an event.
        """
        if sender != self.slave:
            self.log.warn("Ignoring {name} from {sender}, which is not our slave",
                          name=message.DESCRIPTOR.full_name, sender=str(sender))
            return
        self.dispatcher.dispatch(sender, message)

    def peer_lost(self, upid):
        """
        The slave's connection closed: the executor hears ERROR and its
        stream ends (an executor must not outlive its slave).
        """
        if upid == self.slave:
            self._send_event(Event(type=Event.ERROR, error=Event.Error(
                message="lost the connection to the agent")))
            self.close("the slave's connection closed")

    def _subscribed(self, message):
        self.slave_id = message.slave_id
        self.subscribed = True
        framework_info = mesos_pb2.FrameworkInfo()
        framework_info.CopyFrom(message.framework_info)
        framework_info.id.CopyFrom(message.framework_id)
        self._send_event(Event(type=Event.SUBSCRIBED, subscribed=Event.Subscribed(
            executor_info=message.executor_info, framework_info=framework_info,
            agent_info=message.slave_info,
            container_id=mesos_pb2.ContainerID(value=self.container_id))))
        self.start_heartbeat()

    def _reconnect(self, message):
        """
        The slave subscribed us while it was recovering: subscribe again.
        """
        if not self.subscribed:
            self.subscribe()

    def _launch(self, message):
        self._send_event(Event(type=Event.LAUNCH, launch=Event.Launch(task=message.task)))

    def _launch_group(self, message):
        self._send_event(Event(type=Event.LAUNCH_GROUP, launch_group=Event.LaunchGroup(
            task_group=message.task_group)))

    def _kill(self, message):
        kill = Event.Kill(task_id=message.task_id)
        if message.HasField("kill_policy"):
            kill.kill_policy.CopyFrom(message.kill_policy)
        self._send_event(Event(type=Event.KILL, kill=kill))

    def _message(self, message):
        self._send_event(Event(type=Event.MESSAGE, message=Event.Message(data=message.data)))

    def _shutdown(self, message):
        self._send_event(Event(type=Event.SHUTDOWN))
        if not self.subscribed:
            # The slave refused the subscription: nothing more will come.
            self.close("the slave refused the subscription")

    def _acknowledged(self, message):
        self._send_event(Event(type=Event.ACKNOWLEDGED, acknowledged=Event.Acknowledged(
            task_id=message.task_id, uuid=message.uuid)))


class ExecutorAPI:
    """
    The C{/api/v1/executor} endpoint of one slave.

    @param slave: the L{mesos_tw.slave.slave.Slave} (its UPID, and which
        executors it launched).
    @param node_factory: makes a message node for a subscription's UPID.
    """

    def __init__(self, reactor, slave, node_factory, heartbeat_interval=HEARTBEAT_INTERVAL):
        self.reactor = reactor
        self.slave = slave
        self.node_factory = node_factory
        self.heartbeat_interval = heartbeat_interval
        self.subscriptions = {}

    def handle(self, request):
        """
        Answer one call: a stream for SUBSCRIBE, 202 for the others, or an
        error status with a message saying what was wrong.
        """
        return answer_errors(request, lambda: self._answer(request))

    def _answer(self, request):
        call = parse_call(request, Call)
        framework_id, executor_id = call.framework_id.value, call.executor_id.value
        for name, value in (("framework_id", framework_id), ("executor_id", executor_id)):
            if not value:
                raise CallError(f"the call's {name} is empty")
        secrets = self.slave.executor_secrets
        if secrets is not None and not secrets.check(
                request.getHeader(b"authorization"), framework_id, executor_id):
            request.setHeader(b"WWW-Authenticate", b'Bearer realm="mesos-agent-executor"')
            return error_response(request, 401, f"the call needs executor {executor_id}'s "
                                  "token (Authorization: Bearer <MESOS_EXECUTOR_AUTHENTICATION"
                                  "_TOKEN>)")
        if call_kind(call) == "SUBSCRIBE":
            return self._subscribe(request, call, framework_id, executor_id)
        self._dispatch(call, framework_id, executor_id)
        request.setResponseCode(202)
        return b""

    def _run_id(self, framework_id, executor_id):
        framework = self.slave.frameworks.get(framework_id)
        executor = framework.executors.get(executor_id) if framework is not None else None
        if executor is None:
            raise CallError(f"executor {executor_id} of framework {framework_id} is not known "
                            "to this agent")
        return executor.run_id

    def _subscribe(self, request, call, framework_id, executor_id):
        run_id = self._run_id(framework_id, executor_id)
        subscribe = call_body(call)
        for index, update in enumerate(subscribe.unacknowledged_updates):
            self._check_status(update.status,
                               f"subscribe.unacknowledged_updates[{index}].status")
        media = stream_media(request)
        old = self.subscriptions.get((framework_id, executor_id))
        if old is not None:
            # One stream per executor: the newer SUBSCRIBE replaces it.
            old.close("the executor subscribed again")
        pid = self.slave.pid
        node = self.node_factory(UPID(f"executor-http-{uuid.uuid4()}", pid.host, 0))
        slave_id = mesos_pb2.SlaveID(value=self.slave.id) if self.slave.id else None
        subscription = HttpExecutor(self.reactor, request, node, pid, framework_id, executor_id,
                                    run_id, self.heartbeat_interval, media=media,
                                    unacknowledged=subscribe, slave_id=slave_id)
        self.subscriptions[subscription.key] = subscription
        subscription.closed.addCallback(self._forget, subscription)
        return subscription.serve()

    def _forget(self, why, subscription):
        if self.subscriptions.get(subscription.key) is subscription:
            del self.subscriptions[subscription.key]
        return why

    def _dispatch(self, call, framework_id, executor_id):
        kind = call_kind(call)
        handler = getattr(self, "_call_" + kind.lower(), None)
        if handler is None:
            raise CallError(f"{kind} calls are not supported")
        body = call_body(call)
        self._run_id(framework_id, executor_id)
        subscription = self.subscriptions.get((framework_id, executor_id))
        if subscription is None or not subscription.subscribed:
            raise Forbidden(f"executor {executor_id} of framework {framework_id} has not "
                            "subscribed")
        handler(subscription, body)

    # The calls.

    @staticmethod
    def _check_status(status, what):
        if not status.uuid:
            raise CallError(f"{what} needs a uuid (the executor makes one per update)")
        if status.state == mesos_pb2.TASK_STAGING:
            raise CallError(f"{what}: executors must not send TASK_STAGING")

    def _call_update(self, subscription, body):
        self._check_status(body.status, "update.status")
        subscription.update(body.status)

    def _call_message(self, subscription, body):
        subscription.message(body.data)

    def _call_heartbeat(self, subscription, body):
        pass
