"""
The master's handling of frameworks: registration, scheduler failover,
deactivation with its failover timeout, and removal.  Mixed into
L{mesos_tw.master.master.Master}, whose state it uses.
"""

from mesos_tw.master.state import FrameworkRecord
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources

__all__ = ["FrameworkManagement"]


class FrameworkManagement:
    """
    Framework registration, failover and removal, for the L{Master}.
    """

    def _register_framework(self, sender, message):
        existing = self._frameworks_by_pid.get(sender)
        if existing is not None:
            self._send_registered(self.frameworks[existing], internal.FrameworkRegisteredMessage)
            return
        if message.framework.HasField("id") and message.framework.id.value:
            self._send_error(sender, "RegisterFrameworkMessage must not carry a framework id")
            return
        if not self._role_allowed(sender, message.framework):
            return
        framework_id = self._new_id("framework")
        info = mesos_pb2.FrameworkInfo()
        info.CopyFrom(message.framework)
        info.id.value = framework_id
        framework = FrameworkRecord(framework_id, info, sender, self.reactor.seconds())
        self._add_framework(framework)
        self._send_registered(framework, internal.FrameworkRegisteredMessage)

    def _add_framework(self, framework):
        self.frameworks[framework.id] = framework
        self._frameworks_by_pid[framework.pid] = framework.id
        # Tasks reported by re-registered slaves before the framework came
        # back belong to it again.
        for slave in self._slaves_of(framework.id):
            for (framework_id, task_id), record in slave.tasks.items():
                if framework_id == framework.id:
                    framework.tasks[task_id] = record
            for executor_id, info in slave.executors.get(framework.id, {}).items():
                framework.executors.setdefault(slave.id, {})[executor_id] = info
        self.allocator.framework_added(framework.id, Resources(), role=framework.info.role or "*")
        self.events.framework_added(framework)
        self.log.info("Registered framework {framework_id} ({name}) at {pid}",
                      framework_id=framework.id, name=framework.info.name, pid=str(framework.pid))
        self.allocate_soon()

    def _framework_on(self, framework_id, slave_id):
        """
        Note that the framework has tasks, executors or usage on the slave.
        """
        slave_ids = self._framework_slaves.get(framework_id)
        if slave_ids is None:
            slave_ids = self._framework_slaves[framework_id] = set()
        slave_ids.add(slave_id)

    def _slaves_of(self, framework_id):
        """
        The slaves where the framework has (or had) tasks, executors or
        usage, as noted by L{_framework_on}.
        """
        slaves = self.slaves
        found = (slaves.get(slave_id) for slave_id in self._framework_slaves.get(framework_id, ()))
        return [slave for slave in found if slave is not None]

    def _role_allowed(self, sender, info):
        """
        Whether the framework's role is one of C{--roles}; if not, it is
        told why (an error, which ends its driver).
        """
        role = info.role or "*"
        if self.roles is None or role == "*" or role in self.roles:
            return True
        self._send_error(sender, f"Role {role!r} is not one of the master's --roles "
                                 f"({', '.join(sorted(self.roles))})")
        return False

    def _send_registered(self, framework, message_type):
        self.node.send(framework.pid, message_type(
            framework_id=mesos_pb2.FrameworkID(value=framework.id), master_info=self.info))

    def _send_error(self, pid, text):
        self.log.warn("Framework error for {pid}: {message}", pid=str(pid), message=text)
        self.node.send(pid, internal.FrameworkErrorMessage(message=text))

    def _reregister_framework(self, sender, message):
        info = message.framework
        framework_id = info.id.value
        if not framework_id:
            self._send_error(sender, "ReregisterFrameworkMessage needs a framework id")
            return
        framework = self.frameworks.get(framework_id)
        if framework is None and self._was_removed(framework_id):
            # Its tasks were killed and reported so; as in Mesos, it does
            # not come back under the same id.
            self._send_error(sender, "Framework has been removed")
            return
        if framework is None and not self._role_allowed(sender, info):
            return
        if framework is None:
            stored = mesos_pb2.FrameworkInfo()
            stored.CopyFrom(info)
            framework = FrameworkRecord(framework_id, stored, sender, self.reactor.seconds())
            framework.reregistered_time = framework.registered_time
            self._add_framework(framework)
            reply = internal.FrameworkRegisteredMessage if message.failover else \
                internal.FrameworkReregisteredMessage
            self._send_registered(framework, reply)
            return
        if framework.failover_call is not None and framework.failover_call.active():
            framework.failover_call.cancel()
        framework.failover_call = None
        framework.reregistered_time = self.reactor.seconds()
        old_pid = framework.pid
        if old_pid != sender:
            if message.failover:
                self._send_error(old_pid, "Framework failed over")
            self._frameworks_by_pid.pop(old_pid, None)
            framework.pid = sender
            self._frameworks_by_pid[sender] = framework_id
            update = internal.UpdateFrameworkMessage(
                framework_id=mesos_pb2.FrameworkID(value=framework_id), pid=str(sender))
            for slave in self.slaves.values():
                self.node.send(slave.pid, update)
        for offer in list(framework.offers.values()):
            self._remove_offer(offer, rescind=False)
        if not framework.active:
            framework.active = True
            self.allocator.framework_activated(framework_id)
        self.events.framework_updated(framework)
        self._send_registered(
            framework,
            internal.FrameworkRegisteredMessage if message.failover
            else internal.FrameworkReregisteredMessage,
        )
        self.allocate_soon()

    def _was_removed(self, framework_id):
        """
        Whether C{framework_id} is one of the completed frameworks this
        master removed (the last C{MAX_COMPLETED_FRAMEWORKS}, as in Mesos).
        """
        return any(framework.id == framework_id for framework in self.completed_frameworks)

    def _framework_from(self, sender, framework_id):
        """
        The framework C{framework_id} if C{sender} is its scheduler.
        """
        framework = self.frameworks.get(framework_id)
        if framework is None or framework.pid != sender:
            self.log.warn("Ignoring a message for framework {framework_id} from {sender}, "
                          "which is not its registered scheduler",
                          framework_id=framework_id, sender=str(sender))
            return None
        return framework

    def _unregister_framework(self, sender, message):
        framework = self._framework_from(sender, message.framework_id.value)
        if framework is not None:
            self.remove_framework(framework, "it unregistered")

    def _deactivate_framework(self, sender, message):
        framework = self._framework_from(sender, message.framework_id.value)
        if framework is not None:
            self._deactivate(framework, "its scheduler stopped for failover")

    def _deactivate(self, framework, reason):
        if not framework.active:
            return
        framework.active = False
        framework.unregistered_time = self.reactor.seconds()
        self.allocator.framework_deactivated(framework.id)
        for offer in list(framework.offers.values()):
            self._remove_offer(offer, rescind=False)
        timeout = framework.info.failover_timeout
        self.log.info("Deactivated framework {framework_id} ({reason}); failover timeout {timeout}s",
                      framework_id=framework.id, reason=reason, timeout=timeout)
        token = framework.reregistered_time
        framework.failover_call = self.reactor.callLater(
            max(timeout, 0.0), self._failover_timeout, framework, token)
        self.events.framework_updated(framework)

    def _failover_timeout(self, framework, token):
        framework.failover_call = None
        if not framework.active and framework.reregistered_time == token \
                and self.frameworks.get(framework.id) is framework:
            self.remove_framework(framework, "its failover timeout expired")

    def remove_framework(self, framework, reason):
        """
        Tear C{framework} down on every slave and forget it.
        """
        self.log.info("Removing framework {framework_id}: {reason}",
                      framework_id=framework.id, reason=reason)
        if framework.failover_call is not None and framework.failover_call.active():
            framework.failover_call.cancel()
        for offer in list(framework.offers.values()):
            self._remove_offer(offer, rescind=False)
        # As in Mesos, its unfinished tasks end TASK_KILLED: every view
        # then lists them among its completed tasks, and the counters
        # count them.  (Those already ended kept their own terminal state.)
        for record in list(framework.tasks.values()):
            self._apply_master_update(
                framework.id, record, mesos_pb2.TASK_KILLED, f"Framework {framework.id} removed",
                mesos_pb2.TaskStatus.REASON_FRAMEWORK_REMOVED)
        shutdown = internal.ShutdownFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework.id))
        # As Mesos, every slave is told; only those where it has tasks,
        # executors or usage are visited.
        for slave in self.slaves.values():
            self.node.send(slave.pid, shutdown)
        for slave in self._slaves_of(framework.id):
            for key in [k for k in slave.tasks if k[0] == framework.id]:
                record = slave.tasks.pop(key)
                self.allocator.resources_recovered(framework.id, slave.id, record.resources, 0)
            for info in slave.executors.pop(framework.id, {}).values():
                self.allocator.resources_recovered(
                    framework.id, slave.id, Resources.from_protobuf(info.resources), 0)
            slave.usage = {key: statistics for key, statistics in slave.usage.items()
                           if key[0] != framework.id}
        # Its last known usage is no longer current.
        for record in framework.tasks.values():
            record.statistics = None
        framework.executor_usage.clear()
        del self.frameworks[framework.id]
        self._framework_slaves.pop(framework.id, None)
        self._frameworks_by_pid.pop(framework.pid, None)
        self.allocator.framework_removed(framework.id)
        framework.active = False
        framework.unregistered_time = self.reactor.seconds()
        self.completed_frameworks.append(framework)
        self.events.framework_removed(framework)
        self.counters.forget_framework(framework.id)
        self.allocate_soon()
