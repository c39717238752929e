"""
The master: registers slaves and frameworks, turns the allocator's decisions
into offers, validates launches, and forwards tasks, kills, status updates
and framework messages.  Its state is soft: a new master rebuilds it from
what re-registering slaves and frameworks report.

The message flows it follows are described in ``docs/flows.md``.
"""

import socket
import uuid
from collections import deque

from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw import __version__, constants
from mesos_tw.counters import count_state, new_counters
from mesos_tw.master._authentication import AuthenticationManagement
from mesos_tw.master._authorization import AuthorizationManagement
from mesos_tw.master._frameworks import FrameworkManagement
from mesos_tw.master._offers import OfferManagement
from mesos_tw.master._partitions import PartitionManagement
from mesos_tw.master._registrar import RegistryManagement
from mesos_tw.master._registry_gc import RegistryGarbageCollection, RegistryGcPolicy
from mesos_tw.master._slaves import SlaveManagement
from mesos_tw.master._task_messages import TaskMessages
from mesos_tw.master.draining import Draining
from mesos_tw.master.events import MasterEvents
from mesos_tw.master.maintenance import Maintenance
from mesos_tw.master.metrics import MasterCounters
from mesos_tw.master.hierarchical import HierarchicalDRFAllocator
from mesos_tw.master.observer import HealthChecks
from mesos_tw.master.registry import MemoryRemovedSlaves
from mesos_tw.master.state import TERMINAL_STATES, state_name
from mesos_tw.master.whitelist import Whitelist
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.dispatch import Dispatcher
from mesos_tw.protocols.network import IMessageReceiver

__all__ = ["Master", "master_update", "new_master_info"]

Reason = mesos_pb2.TaskStatus


def new_id_counters():
    """
    Fresh counters for numbering frameworks, slaves and offers.
    """
    return {"framework": 0, "slave": 0, "offer": 0}


def _ip_number(host):
    """
    An IPv4 address as the integer Mesos puts in C{MasterInfo.ip}.
    """
    try:
        return int.from_bytes(socket.inet_aton(host), "big")
    except OSError:
        return 0


def new_master_info(upid, hostname, new_uuid=uuid.uuid4):
    """
    The C{MasterInfo} of a master process at C{upid}: its id, address and
    hostname.  The id is a random UUID (C{new_uuid()}), as Mesos's is: the
    ids of the frameworks, slaves and offers the process names start with
    it, so two processes must never share one.  (It was Mesos's older form,
    C{<UTC minute>-<ip number>-<port>-<OS pid>}: a master restarted within
    the minute with the same pid, as a container's first process has, or
    as simulated masters had, named new slaves with ids its predecessor had
    given others; simulator seed 20113.)
    """
    ip = _ip_number(upid.host)
    return mesos_pb2.MasterInfo(
        id=str(new_uuid()), ip=ip, port=upid.port, pid=str(upid),
        hostname=hostname or upid.host,
    )


def master_update(framework_id, task, state, text, reason, now, slave_id=None):
    """
    A status update the master makes itself for a C{TaskInfo} or C{Task}.
    It carries no uuid: nobody acknowledges it.
    """
    status = mesos_pb2.TaskStatus(
        task_id=task.task_id, state=state, message=text, timestamp=now,
        source=Reason.SOURCE_MASTER, reason=reason,
    )
    slave = slave_id or (task.slave_id.value if task.HasField("slave_id") else "")
    if slave:
        status.slave_id.value = slave
    return internal.StatusUpdate(
        framework_id=mesos_pb2.FrameworkID(value=framework_id), status=status,
        timestamp=now, uuid=b"", slave_id=status.slave_id if slave else None,
    )


@implementer(IMessageReceiver)
class Master(SlaveManagement, FrameworkManagement, OfferManagement, TaskMessages,
             RegistryManagement, RegistryGarbageCollection, PartitionManagement,
             AuthenticationManagement, AuthorizationManagement):
    """
    The leading master of a cluster, for one term of leadership.

    @param info: our C{MasterInfo}; made from the node's address at
        C{start} when not given.
    @param roles: the roles frameworks may use (a set), or L{None} for any.
    @param offer_timeout: seconds after which an unanswered offer is
        rescinded, or L{None} (Mesos's default) to let offers stand.
    @param whitelist: a file naming the hostnames whose slaves may be
        offered (one per line, re-read every few seconds), or L{None}.
    @param ids: the counters that number frameworks, slaves and offers;
        an election shares one across its terms, so that a master leading
        a second time never hands out an id twice.
    @param registry: the L{mesos_tw.master.registry.IRemovedSlaves} record
        of admitted and removed slaves, shared by every term and (in
        ZooKeeper) every master; in memory when not given.  Nothing is
        handled until it has been read; a slave is answered once its
        admission is written there, and a removal takes effect once it is.
    @param slave_reregister_timeout: seconds a new leader waits for the
        slaves the registry lists to re-register (Mesos's
        C{--agent_reregister_timeout}).
    @param recovery_removal_limit: the share (0 to 1) of those slaves this
        master may mark unreachable when that timeout runs out; above it
        it calls C{on_removal_limit(reason)} instead (Mesos's
        C{--recovery_agent_removal_limit}; Mesos exits), or, without it,
        stops leading (L{stop}).
    @param registry_gc: the L{RegistryGcPolicy} by which the leader prunes
        unreachable slaves from the registry (Mesos's defaults if not
        given).
    @param collector_hold: a L{mesos_tw.collector.RecoveryHold} held while
        the slaves the registry lists come back, or L{None}.
    @param authenticator: the L{IAuthenticator} frameworks and slaves
        authenticate with, or L{None} (they then cannot).
    @param authenticate_frameworks: refuse frameworks that have not
        authenticated (C{--authenticate_frameworks}).
    @param authenticate_slaves: ignore registrations of slaves that have
        not authenticated (C{--authenticate_agents}).
    @param authorizer: the L{IAuthorizer} that decides registrations,
        launches and reads (C{--acls}), or L{None} to allow everything.
    @ivar authenticated: C{{upid: principal}} of the clients authenticated
        on their current connection.
    @ivar frameworks: C{{framework_id: FrameworkRecord}} of registered ones.
    @ivar slaves: C{{slave_id: SlaveRecord}}.
    @ivar offers: C{{offer_id: OfferRecord}} outstanding.
    @ivar removed_slaves: the ids of the slaves removed (by us or, read from
        the registry, by earlier leaders); they are told to shut down.
    @ivar recovered: whether the registry has been read.
    @ivar recovered_slaves: C{{slave_id: SlaveInfo}} of the slaves the
        registry lists as admitted (by an earlier leader) that have not
        re-registered yet; those left after C{slave_reregister_timeout}
        are removed.
    @ivar recovery_progress: the
        L{mesos_tw.master.recovery_progress.RecoveryProgress} of those slaves once
        the registry is read (L{None} if it lists none).
    @ivar unreachable_slaves: C{{slave_id: when}} of the slaves that stopped
        answering pings and may come back (L{mesos_tw.master._partitions}).
    @ivar events: the L{MasterEvents} operators' subscriptions listen to.
    @ivar maintenance: the L{Maintenance} schedule and inverse offers.
    @ivar draining: the L{Draining} of slaves operators take out.
    @ivar weights: the role weights (C{{role: weight}}), as C{--weights}
        gave them and the operator API updates them.
    """

    log = Logger()

    def __init__(
        self,
        reactor,
        node,
        allocator=None,
        allocation_interval=constants.ALLOCATION_INTERVAL,
        slave_ping_timeout=constants.SLAVE_PING_TIMEOUT,
        max_slave_ping_timeouts=constants.MAX_SLAVE_PING_TIMEOUTS,
        slave_reregister_timeout=constants.SLAVE_REREGISTER_TIMEOUT,
        hostname=None,
        cluster=None,
        info=None,
        ids=None,
        roles=None,
        offer_timeout=None,
        whitelist=None,
        registry=None,
        authenticator=None,
        authenticate_frameworks=False,
        authenticate_slaves=False,
        authorizer=None,
        weights=None,
        recovery_removal_limit=constants.RECOVERY_SLAVE_REMOVAL_LIMIT,
        on_removal_limit=None,
        registry_gc=None,
        collector_hold=None,
    ):
        self.reactor = reactor
        self.node = node
        node.receiver = self
        self.allocator = allocator if allocator is not None else \
            HierarchicalDRFAllocator(reactor)
        self.roles = roles
        self.offer_timeout = offer_timeout
        self.whitelist = self._whitelist_loop = None
        if whitelist is not None:
            self.whitelist = Whitelist(whitelist, self._whitelist_changed)
            self._whitelist_loop = LoopingCall(self.whitelist.read)
            self._whitelist_loop.clock = reactor
        self.allocation_interval = allocation_interval
        self.slave_ping_timeout = slave_ping_timeout
        self.max_slave_ping_timeouts = max_slave_ping_timeouts
        self.slave_reregister_timeout = slave_reregister_timeout
        self.recovery_removal_limit = recovery_removal_limit
        self.on_removal_limit = on_removal_limit
        self.registry_gc = registry_gc if registry_gc is not None else RegistryGcPolicy()
        self.collector_hold = collector_hold
        self.health_checks = HealthChecks(
            reactor, node, slave_ping_timeout, max_slave_ping_timeouts)
        self.hostname = hostname
        self.cluster = cluster
        self.start_time = None
        self.info = info
        self.id = info.id if info is not None else None
        self.frameworks = {}
        self.completed_frameworks = deque(maxlen=constants.MAX_COMPLETED_FRAMEWORKS)
        self.slaves = {}
        self.offers = {}
        self.registry = registry if registry is not None else MemoryRemovedSlaves()
        self.removed_slaves = set()
        self.recovered_slaves = {}
        self._recovered_slaves_call = None
        self.recovery_progress = None
        self._admitting = set()
        # pid -> the id of its registration whose admission failed.
        self._unsettled_admissions = {}
        # slave id -> (digest, reconciliations) of its last re-registration.
        self._reregistration_answers = {}
        # The bytes of what every answer to a re-registration holds
        # (L{_slaves}).
        self._reregistered_template = None
        self.unreachable_slaves = {}
        # slave id -> the records of its tasks frameworks without the
        # PARTITION_AWARE capability heard TASK_LOST for when it became
        # unreachable (L{_partitions}).
        self.unreachable_lost = {}
        self.recovered = False
        self.events = MasterEvents()
        #: The counts behind the metrics (L{mesos_tw.master.metrics}).
        self.counters = MasterCounters()
        #: Maintenance windows and inverse offers; deactivated and draining
        #: slaves (operators' calls).
        self.maintenance = Maintenance(self)
        self.draining = Draining(self)
        self.weights = dict(weights or {})
        self._held = []
        self._removing = {}
        self._retries = set()
        self._stopped = False
        self.stats = new_counters()
        #: The allocation runs (the C{allocator/mesos/allocation_runs} metric).
        self.allocation_runs = 0
        self._frameworks_by_pid = {}
        # framework id -> ids of the slaves where it has (or had) tasks,
        # executors or usage: what adding or removing it visits, instead
        # of every slave.
        self._framework_slaves = {}
        self._slaves_by_pid = {}
        self._next_ids = ids if ids is not None else new_id_counters()
        self._allocation_call = None
        self._allocation_asked = None
        self._allocation_loop = LoopingCall(self.allocate)
        self._allocation_loop.clock = reactor
        self.dispatcher = Dispatcher({
            internal.RegisterSlaveMessage: self._register_slave,
            internal.ReregisterSlaveMessage: self._reregister_slave,
            internal.UnregisterSlaveMessage: self._unregister_slave,
            internal.PongSlaveMessage: self._pong,
            internal.RegisterFrameworkMessage: self._register_framework,
            internal.ReregisterFrameworkMessage: self._reregister_framework,
            internal.UnregisterFrameworkMessage: self._unregister_framework,
            internal.DeactivateFrameworkMessage: self._deactivate_framework,
            internal.LaunchTasksMessage: self._launch_tasks,
            internal.ReviveOffersMessage: self._revive_offers,
            internal.SuppressOffersMessage: self._suppress_offers,
            internal.ResourceRequestMessage: self._request_resources,
            internal.KillTaskMessage: self._kill_task,
            internal.ShutdownExecutorMessage: self._shutdown_executor,
            internal.StatusUpdateMessage: self._status_update,
            internal.ExitedExecutorMessage: self._exited_executor,
            internal.ExecutorUsageMessage: self._executor_usage,
            internal.FrameworkToExecutorMessage: self._framework_to_executor,
            internal.ExecutorToFrameworkMessage: self._executor_to_framework,
            internal.ReconcileTasksMessage: self._reconcile_tasks,
            internal.InverseOffersAnswerMessage: self.maintenance.answered,
        }, self.log)
        self.authenticator = authenticator
        self.authenticate_frameworks = authenticate_frameworks
        self.authenticate_slaves = authenticate_slaves
        self.authenticated = {}
        self._authenticating = {}
        self.authorizer = authorizer
        self.dispatcher.handlers.update(self._authorization_handlers())
        self.dispatcher.handlers.update(self._authentication_handlers())

    @property
    def pid(self):
        return self.node.upid

    def start(self):
        """
        Take an id (it names our address, so the node must be bound) and
        start the periodic allocation.
        """
        self.start_time = self.reactor.seconds()
        if self.info is None:
            self.info = new_master_info(self.node.upid, self.hostname)
        self.id = self.info.id
        self._recover(0)
        if self._whitelist_loop is not None:
            self._whitelist_loop.start(constants.WHITELIST_WATCH_INTERVAL, now=True)
        self._allocation_loop.start(self.allocation_interval, now=False)
        self.health_checks.start()

    def stop(self):
        """
        Stop every timer: allocation, slave pings, failover timeouts,
        registry retries.  Removals not yet recorded are abandoned, loudly.
        """
        self._stopped = True
        for _, timeout, _ in self._authenticating.values():
            if timeout.active():
                timeout.cancel()
        self.events.term_ended("the master stopped leading")
        for call in self._retries:
            if call.active():
                call.cancel()
        self._retries.clear()
        self._stop_waiting_for_recovered()
        if self.recovery_progress is not None:
            self.recovery_progress.stop()
        self._abandon_removals()
        if self._allocation_loop.running:
            self._allocation_loop.stop()
        if self._whitelist_loop is not None and self._whitelist_loop.running:
            self._whitelist_loop.stop()
        for offer in self.offers.values():
            if offer.timeout_call is not None and offer.timeout_call.active():
                offer.timeout_call.cancel()
        if self._allocation_call is not None and self._allocation_call.active():
            self._allocation_call.cancel()
        self.health_checks.stop()
        for framework in self.frameworks.values():
            if framework.failover_call is not None and framework.failover_call.active():
                framework.failover_call.cancel()

    def _new_id(self, kind, prefix=""):
        number = self._next_ids[kind]
        self._next_ids[kind] = number + 1
        return f"{self.id}-{prefix}{number:04d}" if not prefix else f"{self.id}-{prefix}{number}"

    # The message network.

    def message_received(self, sender, message):
        """
        Dispatch a message to its handler (once the registry is read): see
        L{Dispatcher} for unknown messages and handlers that raise.
        """
        self._handle("message", sender, message)

    def peer_lost(self, upid):
        """
        A slave's connection closing disconnects it (it is kept until it
        re-registers or its health checks fail); a scheduler's deactivates
        its framework until it fails over or times out.
        """
        self._handle("lost", upid, None)

    def _handle(self, kind, sender, message):
        if not self.recovered:
            self._held.append((kind, sender, message))
        elif kind == "message":
            self._message(sender, message)
        else:
            self._peer_lost(sender)

    def _message(self, sender, message):
        self.dispatcher.dispatch(sender, message)

    def _peer_lost(self, upid):
        # An authentication holds for one connection: a client that
        # reconnects authenticates again.
        self.authenticated.pop(upid, None)
        self.node.unpin(upid)
        slave_id = self._slaves_by_pid.get(upid)
        if slave_id is not None:
            self.disconnect_slave(self.slaves[slave_id], "its connection closed")
        framework_id = self._frameworks_by_pid.get(upid)
        if framework_id is not None:
            self._deactivate(self.frameworks[framework_id], "its scheduler disconnected")

    # Tasks and status updates.

    def _status_update_for(self, framework_id, task, state, text, reason, slave_id=None):
        """
        A master-made C{StatusUpdate} for a C{TaskInfo} or C{Task}, now.
        """
        return master_update(
            framework_id, task, state, text, reason, self.reactor.seconds(), slave_id)

    def _send_update(self, pid, update):
        """
        Send a master-made update; it carries no C{pid}, so it is not
        acknowledged.
        """
        self.node.send(pid, internal.StatusUpdateMessage(update=update))

    def _apply_master_update(self, framework_id, record, state, text, reason):
        """
        Record a master-made update of a task; the update, to be sent.
        """
        update = self._status_update_for(framework_id, record.task, state, text, reason)
        self._apply_update(record, update.status)
        return update

    def _apply_update(self, record, status):
        """
        Record a task's new state; a terminal one frees its resources.
        """
        task = record.task
        if task.state in TERMINAL_STATES:
            return
        state = status.state
        if record.statuses and record.statuses[-1][0] == state:
            # The same state again (a health check's update, a
            # reconciliation): the task's health may change, its history
            # does not grow.
            if status.HasField("healthy"):
                record.health_changed(status.healthy)
            return
        task.state = state
        record.add_status(status, status.timestamp or self.reactor.seconds())
        count_state(self.stats, state)
        self.events.task_updated(record, status)
        if state in TERMINAL_STATES:
            framework_id, task_id = task.framework_id.value, task.task_id.value
            self.counters.task_ended(framework_id, status)
            key = (framework_id, task_id)
            slave = self.slaves.get(task.slave_id.value)
            if slave is not None and slave.tasks.pop(key, None) is not None:
                self.allocator.resources_recovered(framework_id, slave.id, record.resources, 0)
                self.allocate_soon()
            framework = self.frameworks.get(framework_id)
            if framework is not None and framework.tasks.pop(task_id, None) is not None:
                record.pack()
                framework.completed_tasks.append(record)

    def _status_update(self, sender, message):
        update = message.update
        slave = self.slaves.get(update.slave_id.value)
        if slave is None or slave.pid != sender:
            self.stats["invalid_status_updates"] += 1
            self.log.warn("Ignoring status update for task {task_id} from {sender}: "
                          "not a registered slave (it will retry after re-registering)",
                          task_id=update.status.task_id.value, sender=str(sender))
            return
        framework_id = update.framework_id.value
        record = slave.tasks.get((framework_id, update.status.task_id.value))
        if record is not None:
            self._apply_update(record, update.status)
        self.stats["valid_status_updates"] += 1
        framework = self.frameworks.get(framework_id)
        if framework is not None and framework.active:
            self.node.send(framework.pid, message)
        else:
            self.log.info("Framework {framework_id} is not connected; the slave will resend "
                          "the update for task {task_id}", framework_id=framework_id,
                          task_id=update.status.task_id.value)

    # State for the HTTP endpoints.

    def state(self):
        """
        The cluster as the C{/master/state} JSON object (Mesos's names).
        """
        return dict(
            self.state_fields(),
            slaves=[slave.to_json() for slave in self.slaves.values()],
            frameworks=[framework.to_json() for framework in self.frameworks.values()],
            completed_frameworks=[f.to_json() for f in self.completed_frameworks],
        )

    def state_fields(self):
        """
        The state JSON's fields other than its slaves and frameworks.
        """
        return {
            "version": __version__,
            "start_time": self.start_time,
            "elected_time": self.start_time,
            "id": self.id,
            "pid": str(self.pid),
            "hostname": self.info.hostname,
            "leader": str(self.pid),
            "cluster": self.cluster or "",
            "activated_slaves": sum(slave.connected for slave in self.slaves.values()),
            "deactivated_slaves": sum(not slave.connected for slave in self.slaves.values()),
            "unreachable_slaves": len(self.unreachable_slaves),
            **self.stats,
            "orphan_tasks": [],
            "unregistered_frameworks": [],
        }

    def task_state_name(self, framework_id, task_id):
        """
        The name of a task's state (for logs and tests), or L{None}.
        """
        framework = self.frameworks.get(framework_id)
        record = framework.tasks.get(task_id) if framework is not None else None
        return state_name(record.state) if record is not None else None
