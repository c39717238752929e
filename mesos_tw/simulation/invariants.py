"""
What must hold in every simulated world: each invariant is a function of
the world that returns a list of violations (text), empty when it holds.
L{CONTINUOUS} are checked every simulated second; L{FINAL} once the faults
have stopped and the world has settled.
"""

from mesos_tw.constants import MIN_CPUS, MIN_MEM
from mesos_tw.resources import Resources
from mesos_tw.simulation.actors import TERMINAL
from mesos_tw.slave.slave import TERMINATING_SLAVE

__all__ = ["CONTINUOUS", "FINAL", "check_allocation"]


def _name(state):
    from mesos_tw.protocols import mesos_pb2

    return mesos_pb2.TaskState.Name(state)


def one_leader(world):
    """
    No two masters act as leader at once (each acts only in a term ZooKeeper
    confirmed, and a term ends before another master's begins).
    """
    leaders = world.leaders()
    if len(leaders) > 1:
        return [f"{len(leaders)} masters lead at once: "
                f"{', '.join(str(m.upid) for m in leaders)}"]
    return []


def terminal_once(world):
    """
    A framework hears of a task's end once: after a terminal update (which
    its driver acknowledged) nothing more about the task reaches it.  The
    exceptions: the same terminal update again, to a scheduler process that
    failed over before its acknowledgement could reach the slave; and
    Mesos's (1.5 and later): a C{TASK_LOST} that carries an
    C{unreachable_time} (its slave was found unreachable) is followed by
    the task's state again if the slave comes back and is re-admitted (see
    L{SimulatedScheduler.statusUpdate}).
    """
    return [f"{task_id}: {' -> '.join(_name(s) for s in scheduler.updates[task_id])} "
            "(an update after its terminal one)"
            for scheduler in world.schedulers for task_id in sorted(scheduler.late)]


def offers_within_totals(world):
    """
    On the leading master, what is offered plus what tasks and executors
    use on a slave never exceeds the slave's total: nothing is offered
    twice.
    """
    violations = []
    for process in world.leaders():
        master = process.election.master
        for slave in master.slaves.values():
            offered = Resources.sum(offer.resources for offer in slave.offers.values())
            held = offered + slave.used()
            if not slave.total.contains(held):
                violations.append(f"slave {slave.id}: offered {offered} and used "
                                  f"{slave.used()} exceed its total {slave.total}")
    return violations


def no_task_runs_twice(world):
    """
    No task runs on two slaves, or twice on one.
    """
    return [f"{task_id} ran {len(runs)} times: on {', '.join(runs)}"
            for task_id, runs in world.runs.items() if len(runs) > 1]


def gone_stays_gone(world):
    """
    A slave an operator marked gone, once a leader recorded it so, is never
    admitted again: no leader lists it among its slaves, registered or
    unreachable (when it comes back it is told to shut down, as in Mesos),
    so its tasks, reported lost, never run on in the master's view.
    """
    violations = []
    for process in world.leaders():
        master = process.election.master
        for slave_id, when in sorted(world.gone.items()):
            if slave_id in master.slaves or slave_id in master.unreachable_slaves:
                violations.append(f"slave {slave_id}, recorded gone at {when:.0f}s, is admitted "
                                  f"again by {process.upid}")
    return violations


def every_task_ends(world):
    """
    Once the world settles, every task launched has a terminal state at its
    framework: none is left unreported.
    """
    violations = []
    for scheduler in world.schedulers:
        for task_id in scheduler.launched:
            states = scheduler.updates.get(task_id, [])
            if not states or states[-1] not in TERMINAL:
                last = _name(states[-1]) if states else "nothing"
                violations.append(f"{task_id}: its framework last heard {last}")
    return violations


def updates_acknowledged(world):
    """
    Once the world settles, no slave still in the cluster holds a status
    update waiting for acknowledgement: every update reached its framework
    and was acknowledged, so the slave's record of it is gone.
    """
    violations = []
    for slave in world.slaves:
        if slave.registration == TERMINATING_SLAVE:
            # The master removed it and told it to shut down: as a real
            # slave process would exit, what it held goes with it (its
            # tasks were reported lost when it was removed).
            continue
        pending = slave.status_updates.pending()
        if pending:
            violations.append(f"{slave.node.upid}: {pending} updates never acknowledged")
    return violations


def views_agree(world):
    """
    Once the world settles, the leading master and the frameworks agree on
    every task the master still lists as running.
    """
    violations = []
    leaders = world.leaders()
    if not leaders:
        return ["no leading master after the world settled"]
    master = leaders[0].election.master
    heard = {}
    for scheduler in world.schedulers:
        for task_id, states in scheduler.updates.items():
            if states:
                heard[task_id] = states[-1]
    for framework in master.frameworks.values():
        for task_id, record in framework.tasks.items():
            if record.state not in TERMINAL and heard.get(task_id) != record.state:
                violations.append(
                    f"{task_id}: the master says {_name(record.state)}, its framework "
                    f"{_name(heard[task_id]) if task_id in heard else 'heard nothing'}")
    return violations


def drf_fair(world):
    """
    Every offer goes to the framework with the smallest dominant share
    among those that keep asking (the allocator wants offers for them and
    no filter of theirs covers the slave): the leader's allocations are
    checked as they are made (L{check_allocation}), with shares computed
    from the master's own records of what each framework holds and is
    offered, not from the allocator's.
    """
    violations, world.drf_violations = world.drf_violations, []
    return violations


def check_allocation(world, master, allocate, changed_only):
    """
    Run C{allocate(changed_only)} for C{master}, noting in
    C{world.drf_violations} each offer made to a framework while another
    that kept asking for the slave held a smaller dominant share.
    """
    allocator = master.allocator
    # What allocating reads and changes, as it was before: the rest (the
    # master's records, the filters) allocating does not change, so it is
    # read afterwards, and only when offers were made (most cycles make
    # none: this check took a sixth of a run's time when done every cycle).
    # The allocator is read only through IAllocator, so any allocator
    # plugin can be checked; its clock is the master's.
    free = allocator.free_resources()
    now = master.reactor.seconds()
    offers = allocate(changed_only)
    if not offers:
        return offers
    totals = Resources.sum(slave.total for slave in master.slaves.values()).scalars()
    held = {framework_id: (framework.used() + framework.offered()).scalars()
            for framework_id, framework in master.frameworks.items() if framework.active}

    def share(framework_id):
        return max((amount / totals[name] for name, amount in held[framework_id].items()
                    if totals.get(name)), default=0.0)

    offered = {slave_id for _, slave_id, _ in offers}
    takers = {slave_id: [framework_id for framework_id in held
                         if _asks(allocator, framework_id, slave_id, resources, now)]
              for slave_id, resources in free.items() if slave_id in offered}
    for framework_id, slave_id, resources in offers:
        if framework_id not in held:
            continue
        mine = share(framework_id)
        poorer = [other for other in takers.get(slave_id, ())
                  if other != framework_id and share(other) < mine - 1e-9]
        if poorer:
            world.drf_violations.append(
                f"slave {slave_id} offered to {framework_id} (dominant share {mine:.3f}) "
                f"while {poorer[0]} kept asking with {share(poorer[0]):.3f}")
        for name, amount in resources.scalars().items():
            held[framework_id][name] = held[framework_id].get(name, 0.0) + amount
    return offers


def _asks(allocator, framework_id, slave_id, free, now):
    """
    Whether the allocator should consider C{framework_id} for C{free} on
    the slave: it wants offers, and no unexpired filter of its covers them.
    """
    if not allocator.wants_offers(framework_id):
        return False
    refused, expiry = allocator.filter_on(slave_id, framework_id) or (None, None)
    if refused is None or (expiry is not None and expiry <= now):
        return True
    return not refused.contains(free)


def _most_offers(total):
    """
    How many offers fit in C{total} resources, each holding at least the
    allocator's minimum (L{MIN_CPUS} and L{MIN_MEM}).
    """
    scalars = total.scalars()
    return int(min(scalars.get("cpus", 0.0) / MIN_CPUS, scalars.get("mem", 0.0) / MIN_MEM))


def records_bounded(world):
    """
    What the leader, the slaves and the drivers keep is bounded by what is
    alive: the leader knows at most one framework per scheduler process
    started (or v1 subscription made without a framework id) and every
    slave, has no more offers on a slave than pieces of the allocator's
    minimum size fit in it (a framework holding an offer gets another for
    resources freed meanwhile, as on Mesos), and keeps task records only
    for tasks their frameworks launched; a slave keeps executors only of
    frameworks that exist and status update streams only for its tasks;
    completed records are capped.
    """
    violations = []
    frameworks, machines = len(world.frameworks), len(world.machines)
    launched = {task_id for scheduler in world.schedulers for task_id in scheduler.launched}
    for process in world.leaders():
        master = process.election.master
        # A scheduler process that died before it heard its framework id
        # leaves a framework the master keeps for its failover timeout; so
        # may each v1 subscription made without one.
        started = sum(scheduler.incarnation + scheduler.anonymous_subscriptions
                      for scheduler in world.schedulers)
        if len(master.frameworks) > started:
            violations.append(f"the leader keeps {len(master.frameworks)} frameworks for "
                              f"{started} scheduler processes")
        if len(master.slaves) > machines:
            violations.append(f"the leader keeps {len(master.slaves)} slaves")
        for slave in master.slaves.values():
            if len(slave.offers) > _most_offers(slave.total):
                violations.append(f"the leader keeps {len(slave.offers)} offers on slave "
                                  f"{slave.id}, more than {_most_offers(slave.total)} of the "
                                  f"smallest size fit in {slave.total}")
        if len(master.offers) > sum(_most_offers(s.total) for s in master.slaves.values()):
            violations.append(f"the leader keeps {len(master.offers)} offers")
        for framework in master.frameworks.values():
            unknown = set(framework.tasks) - launched
            if unknown:
                violations.append(f"the leader keeps tasks never launched: {sorted(unknown)}")
            if len(framework.completed_tasks) > framework.completed_tasks.maxlen:
                violations.append(f"{framework.id}: completed tasks over their cap")
    for slave in world.slaves:
        if len(slave.frameworks) > frameworks:
            violations.append(f"{slave.node.upid} keeps {len(slave.frameworks)} frameworks")
        for framework in slave.frameworks.values():
            for executor in framework.executors.values():
                if len(executor.tasks) + len(executor.queued_tasks) > len(launched):
                    violations.append(f"{slave.node.upid}: an executor with more tasks than "
                                      "were launched")
        streams = len(slave.status_updates._streams)
        if streams > len(launched):
            violations.append(f"{slave.node.upid} keeps {streams} status update streams for "
                              f"{len(launched)} tasks")
    return violations


def records_released(world):
    """
    Once the world settles and every task has ended, nothing is kept for
    them: no task record at the leader, no executor or status update
    stream at any slave, no executor process alive.
    """
    violations = []
    for process in world.leaders():
        for framework in process.election.master.frameworks.values():
            if framework.tasks:
                violations.append(f"the leader still keeps {len(framework.tasks)} tasks of "
                                  f"{framework.id}")
    for slave in world.slaves:
        if slave.registration == TERMINATING_SLAVE:
            continue
        executors = sum(len(f.executors) for f in slave.frameworks.values())
        if executors:
            violations.append(f"{slave.node.upid} still keeps {executors} executors")
        if slave.status_updates._streams:
            violations.append(f"{slave.node.upid} still keeps "
                              f"{len(slave.status_updates._streams)} status update streams")
    for machine in world.machines:
        if machine.executors and machine.slave is not None \
                and machine.slave.registration != TERMINATING_SLAVE:
            violations.append(f"{machine.name}: {len(machine.executors)} executor processes "
                              "still run")
    return violations


CONTINUOUS = (one_leader, terminal_once, offers_within_totals, no_task_runs_twice, drf_fair,
              records_bounded, gone_stays_gone)
FINAL = CONTINUOUS + (every_task_ends, updates_acknowledged, views_agree, records_released)
