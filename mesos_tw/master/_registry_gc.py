"""
The leader's pruning of its registry (Mesos's C{Master::doRegistryGc}),
mixed into L{mesos_tw.master.master.Master}.

Every C{--registry_gc_interval} after the registry was read, the leading
master looks at the slaves it holds as unreachable: while there are more
than C{--registry_max_agent_count}, the oldest (by the time each was found
unreachable) go, and so does any found unreachable more than
C{--registry_max_agent_age} ago.  The registry forgets them first, in one
batch (one C{mark_reachable} each, which the registrar writes together);
only those whose write succeeded are then forgotten in memory: the
master's unreachable table (C{/master/state}'s and the metrics'
unreachable slaves) and their frameworks' unreachable tasks, which a
reconciliation then answers as unknown.  As in Mesos, such a slave that
re-registers later is admitted as a new one would be.  A slave that came
back (or was marked again) while the write was in flight is left alone.

The removed slaves' ids are not pruned: we keep no time for them, and a
removed slave must stay refused.
"""

from twisted.internet.defer import DeferredList

from mesos_tw import constants

__all__ = ["RegistryGcPolicy", "RegistryGarbageCollection", "registry_gc_candidates"]


class RegistryGcPolicy:
    """
    How often, and what, the leader prunes from its registry.

    @ivar interval: seconds between prunings (C{--registry_gc_interval}).
    @ivar max_age: seconds an unreachable slave is kept
        (C{--registry_max_agent_age}).
    @ivar max_count: how many unreachable slaves are kept at most
        (C{--registry_max_agent_count}).
    """

    def __init__(self, interval=constants.REGISTRY_GC_INTERVAL,
                 max_age=constants.REGISTRY_MAX_AGENT_AGE,
                 max_count=constants.REGISTRY_MAX_AGENT_COUNT):
        self.interval = interval
        self.max_age = max_age
        self.max_count = max_count


def registry_gc_candidates(unreachable, now, policy):
    """
    The ids of the unreachable slaves to prune at C{now}: the oldest beyond
    C{policy.max_count}, and any older than C{policy.max_age}.

    @param unreachable: C{{slave_id: seconds}}, when each was found
        unreachable.
    @return: a list of slave ids, oldest first.
    """
    ordered = sorted(unreachable.items(), key=lambda item: (item[1], item[0]))
    excess = max(0, len(ordered) - policy.max_count)
    return [slave_id for index, (slave_id, when) in enumerate(ordered)
            if index < excess or now - when > policy.max_age]


class RegistryGarbageCollection:
    """
    The periodic pruning of the registry, for the L{Master}.
    """

    def _schedule_registry_gc(self):
        """
        Prune the registry C{registry_gc.interval} from now, unless the
        term ends first.
        """

        def fire():
            self._retries.discard(call)
            self._collect_registry_garbage()

        call = self.reactor.callLater(self.registry_gc.interval, fire)
        self._retries.add(call)

    def _collect_registry_garbage(self):
        if self._stopped:
            return
        self._schedule_registry_gc()
        chosen = registry_gc_candidates(
            self.unreachable_slaves, self.reactor.seconds(), self.registry_gc)
        if not chosen:
            self.log.debug("Skipping periodic registry garbage collection: "
                           "no slaves qualify for removal")
            return
        self.log.info("Attempting to remove {count} unreachable slaves from the registry",
                      count=len(chosen))
        since = {slave_id: self.unreachable_slaves[slave_id] for slave_id in chosen}
        d = DeferredList([self.registry.mark_reachable(slave_id) for slave_id in chosen],
                         consumeErrors=True)
        d.addCallback(self._registry_garbage_collected, since)
        d.addErrback(lambda failure: self.log.failure(
            "Failed to forget the pruned slaves", failure))

    def _registry_garbage_collected(self, results, since):
        """
        The registry's writes for the slaves C{since} (C{{slave_id: when}}
        each was unreachable since) completed with C{results}: forget, in
        memory, those written and still unreachable since then.
        """
        if self._stopped:
            return
        forgotten = set()
        for (slave_id, when), (succeeded, result) in zip(since.items(), results):
            if not succeeded:
                self.log.error("Cannot remove unreachable slave {slave_id} from the registry: "
                               "{error}; trying again at the next collection",
                               slave_id=slave_id, error=result.getErrorMessage())
                continue
            if self.unreachable_slaves.get(slave_id) != when:
                self.log.warn("Failed to garbage collect {slave_id} from the unreachable list: "
                              "it came back meanwhile", slave_id=slave_id)
                continue
            del self.unreachable_slaves[slave_id]
            self.unreachable_lost.pop(slave_id, None)
            forgotten.add(slave_id)
        # Their tasks, in one pass over every framework's.
        for framework in self.frameworks.values():
            for task_id, record in list(framework.unreachable_tasks.items()):
                if record.task.slave_id.value in forgotten:
                    del framework.unreachable_tasks[task_id]
        self.log.info("Garbage collected {count} unreachable slaves from the registry",
                      count=len(forgotten))
