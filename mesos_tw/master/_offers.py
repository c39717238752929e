"""
The master's handling of offers: turning the allocator's decisions into
offers, rescinding them, and launching tasks on them (with validation).
Mixed into L{mesos_tw.master.master.Master}, whose state it uses.
"""

from mesos_tw.master.state import OfferRecord, TaskRecord, shown_fields
from mesos_tw.master.validation import launched_tasks, validate_group, validate_task
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources

__all__ = ["OfferManagement"]

Reason = mesos_pb2.TaskStatus


class OfferManagement:
    """
    Offers and launches, for the L{Master}.
    """

    def allocate_soon(self):
        """
        Run an allocation on the next turn of the reactor (once, however many
        events ask for it).
        """
        if self._allocation_call is None or not self._allocation_call.active():
            self._allocation_asked = self.reactor.seconds()
            self._allocation_call = self.reactor.callLater(0, self.allocate, changed_only=True)

    def allocate(self, changed_only=False):
        """
        Ask the allocator for offers and send them, one message per framework:
        for every slave (the allocation interval's cycle) or, after events,
        for what they changed (L{IAllocator.allocate}).
        """
        self.allocation_runs += 1
        started = self.reactor.seconds()
        if self._allocation_asked is not None:
            self.counters.allocation_latency.record((started - self._allocation_asked) * 1000)
            self._allocation_asked = None
        by_framework = {}
        for framework_id, slave_id, resources in self.allocator.allocate(changed_only):
            framework = self.frameworks[framework_id]
            slave = self.slaves[slave_id]
            offer = mesos_pb2.Offer(
                id=mesos_pb2.OfferID(value=self._new_id("offer", "O")),
                framework_id=mesos_pb2.FrameworkID(value=framework_id),
                slave_id=mesos_pb2.SlaveID(value=slave_id),
                hostname=slave.info.hostname,
                resources=resources.to_protobuf(),
                attributes=slave.info.attributes,
                executor_ids=[
                    mesos_pb2.ExecutorID(value=e) for e in slave.executors.get(framework_id, {})
                ],
            )
            _, unavailability = self.maintenance.mode_of(slave)
            if unavailability is not None:
                offer.unavailability.CopyFrom(unavailability)
            record = OfferRecord(offer, slave.pid, resources)
            if self.offer_timeout is not None:
                record.timeout_call = self.reactor.callLater(
                    self.offer_timeout, self._offer_timed_out, record)
            self.offers[record.id] = record
            framework.offers[record.id] = record
            slave.offers[record.id] = record
            by_framework.setdefault(framework_id, []).append(record)
        self.maintenance.send_inverse_offers()
        self.counters.allocation_run.record((self.reactor.seconds() - started) * 1000)
        for framework_id, records in by_framework.items():
            self.counters.count_framework(framework_id, "offers/sent", len(records))
            self.node.send(self.frameworks[framework_id].pid, internal.ResourceOffersMessage(
                offers=[r.offer for r in records], pids=[str(r.pid) for r in records]))

    def _whitelist_changed(self, hostnames):
        self.allocator.update_whitelist(hostnames)
        self.allocate_soon()

    def _offer_timed_out(self, offer):
        offer.timeout_call = None
        if self.offers.get(offer.id) is offer:
            self.log.info("Rescinding offer {offer_id}: unanswered for {timeout}s (--offer_timeout)",
                          offer_id=offer.id, timeout=self.offer_timeout)
            self._remove_offer(offer, rescind=True)
            self.allocate_soon()

    def _remove_offer(self, offer, rescind, recover=True, refuse_seconds=0):
        if offer.timeout_call is not None and offer.timeout_call.active():
            offer.timeout_call.cancel()
        offer.timeout_call = None
        self.offers.pop(offer.id, None)
        framework = self.frameworks.get(offer.framework_id)
        if framework is not None:
            framework.offers.pop(offer.id, None)
        slave = self.slaves.get(offer.slave_id)
        if slave is not None:
            slave.offers.pop(offer.id, None)
        if recover:
            self.allocator.resources_recovered(
                offer.framework_id, offer.slave_id, offer.resources, refuse_seconds)
        if rescind and framework is not None and framework.active:
            self.counters.count_framework(framework.id, "offers/rescinded")
            self.node.send(framework.pid, internal.RescindResourceOfferMessage(
                offer_id=offer.offer.id))

    def _launch_tasks(self, sender, message):
        framework_id = message.framework_id.value
        framework = self._framework_from(sender, framework_id)
        offer_ids = [o.value for o in message.offer_ids]
        if message.HasField("offer_id") and message.offer_id.value not in offer_ids:
            offer_ids.insert(0, message.offer_id.value)
        launched = launched_tasks(message)
        if framework is None:
            for task in launched:
                self._send_update(sender, self._status_update_for(
                    framework_id, task, mesos_pb2.TASK_LOST,
                    "Launch from a scheduler that is not registered for the framework",
                    Reason.REASON_INVALID_FRAMEWORKID))
            return
        offers, error = [], None
        for offer_id in offer_ids:
            offer = self.offers.get(offer_id)
            if offer is None or offer.framework_id != framework_id:
                error = f"Task launched with invalid offer {offer_id}"
            elif offers and offer.slave_id != offers[0].slave_id:
                error = "Task launched with offers from more than one slave"
            else:
                offers.append(offer)
        if not offer_ids:
            error = "Task launched without an offer"
        refuse_seconds = message.filters.refuse_seconds
        if error is not None:
            for offer in offers:
                self._remove_offer(offer, rescind=False)
            for task in launched:
                self._send_update(framework.pid, self._status_update_for(
                    framework_id, task, self.dropped_task_state(framework_id), error,
                    Reason.REASON_INVALID_OFFERS))
            self.allocate_soon()
            return
        slave = self.slaves[offers[0].slave_id]
        available = sum((o.resources for o in offers), Resources())
        for offer in offers:
            self._remove_offer(offer, rescind=False, recover=False)
        executors = dict(slave.executors.get(framework_id, {}))
        for task in message.tasks:
            error, needed = validate_task(
                task, slave.id, framework.tasks.keys(), executors, available)
            if error is not None:
                self.log.warn("Refusing task {task_id} of framework {framework_id}: {error}",
                              task_id=task.task_id.value, framework_id=framework_id, error=error)
                self.stats["error_tasks"] += 1
                self._send_update(framework.pid, self._status_update_for(
                    framework_id, task, mesos_pb2.TASK_ERROR, error, Reason.REASON_TASK_INVALID))
                continue
            available = available - needed
            self._run_task(framework, slave, task, executors)
        for group in message.groups:
            error, needed = validate_group(group.executor, group.task_group, slave.id,
                                           framework.tasks.keys(), executors, available)
            if error is not None:
                self._refuse_group(framework, group, error)
                continue
            available = available - needed
            self._run_task_group(framework, slave, group, executors)
        self.allocator.resources_recovered(framework_id, slave.id, available, refuse_seconds)
        self.counters.count_framework(
            framework_id, "offers/accepted" if launched else "offers/declined", len(offers))
        if not launched:
            self.counters.count("messages_decline_offers")
            self.log.debug("Framework {framework_id} declined {count} offer(s)",
                           framework_id=framework_id, count=len(offers))
        self.allocate_soon()

    def _refuse_group(self, framework, group, error):
        """
        A task group is launched whole or not at all: each of its tasks gets
        TASK_ERROR with the reason.
        """
        task_ids = ", ".join(task.task_id.value for task in group.task_group.tasks)
        self.log.warn("Refusing the task group [{task_ids}] of framework {framework_id}: "
                      "{error}", task_ids=task_ids, framework_id=framework.id, error=error)
        for task in group.task_group.tasks:
            self.stats["error_tasks"] += 1
            self._send_update(framework.pid, self._status_update_for(
                framework.id, task, mesos_pb2.TASK_ERROR, error, Reason.REASON_TASK_INVALID))

    def _run_task_group(self, framework, slave, group, executors):
        """
        Record a valid group's tasks (each carrying the group's executor, as
        Mesos injects it) and send the group to its slave in one message.
        """
        executor = mesos_pb2.ExecutorInfo()
        executor.CopyFrom(group.executor)
        executor.framework_id.value = framework.id
        task_group = mesos_pb2.TaskGroupInfo()
        for task in group.task_group.tasks:
            launched = task_group.tasks.add()
            launched.CopyFrom(task)
            launched.executor.CopyFrom(executor)
            self._record_task(framework, slave, launched, executors)
        self.node.send(slave.pid, internal.RunTaskGroupMessage(
            framework=framework.info, executor=executor, task_group=task_group,
            pid=str(framework.pid)))

    def _run_task(self, framework, slave, task, executors):
        record_task = self._record_task(framework, slave, task, executors)
        self.node.send(slave.pid, internal.RunTaskMessage(
            framework_id=record_task.framework_id, framework=framework.info,
            pid=str(framework.pid), task=task))

    def _record_task(self, framework, slave, task, executors):
        """
        Add a task being launched to the framework's and the slave's
        records (and its executor, if new), staging.

        @return: the C{Task} record.
        """
        now = self.reactor.seconds()
        # Ids set from their text (copying id messages costs more).
        record_task = internal.Task(name=task.name, state=mesos_pb2.TASK_STAGING)
        record_task.task_id.value = task.task_id.value
        record_task.framework_id.value = framework.id
        record_task.slave_id.value = task.slave_id.value
        record_task.resources.extend(task.resources)
        for name in ("health_check", "kill_policy"):
            if task.HasField(name):
                getattr(record_task, name).CopyFrom(getattr(task, name))
        if task.HasField("executor"):
            executor_id = task.executor.executor_id.value
            record_task.executor_id.value = executor_id
            if executor_id not in executors:
                executors[executor_id] = task.executor
                slave.executors.setdefault(framework.id, {})[executor_id] = task.executor
                framework.executors.setdefault(slave.id, {})[executor_id] = task.executor
        record = TaskRecord(record_task, Resources.from_protobuf(task.resources),
                            [(mesos_pb2.TASK_STAGING, now)], shown=shown_fields(task))
        framework.tasks[task.task_id.value] = record
        slave.tasks[record.key] = record
        self._framework_on(framework.id, slave.id)
        self.stats["staged_tasks"] += 1
        self.events.task_added(record)
        return record_task

    def _revive_offers(self, sender, message):
        framework = self._framework_from(sender, message.framework_id.value)
        if framework is not None:
            self.allocator.offers_revived(framework.id)
            self.allocate_soon()

    def _suppress_offers(self, sender, message):
        framework = self._framework_from(sender, message.framework_id.value)
        if framework is not None:
            self.allocator.offers_suppressed(framework.id)

    def _request_resources(self, sender, message):
        framework = self._framework_from(sender, message.framework_id.value)
        if framework is not None:
            self.allocator.resources_requested(framework.id, list(message.requests))
