"""
One seeded run of a simulated cluster: build the world, let it work while
the seed's faults strike, stop the faults, let it settle, and check every
invariant on the way and at the end.
"""

import random
from dataclasses import dataclass, field

from mesos_tw.simulation.faults import KINDS
from mesos_tw.simulation.invariants import CONTINUOUS, FINAL
from mesos_tw.simulation.world import World
from mesos_tw.web.v1 import CallError

__all__ = ["FAULT_SECONDS", "MUTATIONS", "Run", "schedule_faults", "shrink", "simulate"]

#: Simulated seconds of faults, then of settling (tasks last at most 60 s;
#: a slave cut off is removed after 75 s without pongs).
FAULT_SECONDS = 240.0
SETTLE_SECONDS = 240.0

#: Known bugs the simulator can put back, to show it finds them.
MUTATIONS = ("drop_ack", "double_offer", "keep_unknown_connections", "forget_removed_slave")

#: The most faults of a kind a run gets where fewer than of the others (a
#: slave marked gone is gone for good, and the world needs slaves left to
#: do its frameworks' work): at most one, even with C{buggify}.
MOST = {"gone": 1}

#: The operator tries to mark a slave gone every C{GONE_RETRY} seconds, at
#: most C{GONE_TRIES} times, until the leader has recorded it.
GONE_RETRY, GONE_TRIES = 5.0, 12


@dataclass
class Run:
    """
    What one seed's run found.

    @ivar violations: C{(invariant name, simulated time, text)}.
    @ivar trace: the world's trace, C{(simulated time, text)}.
    """

    seed: int
    simulated_seconds: float = 0.0
    faults: dict = field(default_factory=dict)
    violations: list = field(default_factory=list)
    trace: list = field(default_factory=list)


def schedule_faults(seed, kinds, buggify=False):
    """
    The faults of C{kinds} that strike during the fault phase, from the
    seed: C{[(simulated time, kind, number)]}, in the order of L{KINDS}.
    Each kind draws from its own generator, and each fault's own choices
    (whom, how long) from one of its own (L{_draw}), so that a run without
    some of them (L{shrink}) keeps the others as they were.
    """
    low, high = (2, 8) if buggify else (0, 3)
    schedule = []
    for kind in KINDS:
        if kind in kinds and kind in _ACTIONS:
            rng = random.Random(f"{seed}/faults/{kind}")
            most = MOST.get(kind, high)
            for number in range(rng.randint(min(low, most), min(high, most))):
                schedule.append((rng.uniform(0, FAULT_SECONDS), kind, number))
    return schedule


def _draw(world, kind, number):
    return random.Random(f"{world.seed}/{kind}/{number}")


def _start_faults(world, kinds, only=None):
    """
    Schedule the seed's faults of C{kinds} (those numbered in C{only}, if
    given: indexes into L{schedule_faults}), and turn on the others.
    """
    world.network.enabled = "network" in kinds
    for index, (at, kind, number) in enumerate(schedule_faults(world.seed, kinds,
                                                               world.buggify)):
        if only is None or index in only:
            world.clock.callLater(at, _ACTIONS[kind], world, _draw(world, kind, number))


def _partition(world, draw):
    slave = draw.choice(world.machines)
    length = draw.uniform(5, 120)
    world.network.count("partition")
    _cut_off(world, slave, length)


def _cut_off(world, machine, seconds, note=""):
    """
    Cut C{machine} off from every master for C{seconds} (the trace says
    so, then C{note}).
    """
    world.record(f"partition {machine.upid} from the masters for {seconds:.0f}s{note}")
    for master in world.masters:
        world.network.partition(machine.upid, master.upid)
    world.clock.callLater(seconds, _heal, world, machine)


def _heal(world, slave):
    world.record(f"heal {slave.upid}")
    for master in world.masters:
        world.network.heal(slave.upid, master.upid)


def _crash_leader(world, draw):
    downtime = draw.uniform(2, 40)
    leading = [m for m in world.masters if m.alive and m.election.elected]
    if not leading:
        return
    process = leading[0]
    world.network.count("crash")
    world.record(f"crash the leading master {process.upid} for {downtime:.0f}s")
    process.crash()
    world.clock.callLater(downtime, _restart_master, world, process)


def _restart_master(world, process):
    if not process.alive and world.faulting:
        world.record(f"restart master {process.upid}")
        process.start()


def _expire_session(world, draw):
    process = draw.choice(world.masters)
    if not process.alive:
        return
    world.network.count("zk")
    world.record(f"expire the ZooKeeper session of {process.upid}")
    process.client.expire()


def _crash_slave(world, draw):
    machine = draw.choice(world.machines)
    downtime = draw.uniform(1, 100)
    if machine.slave is None:
        return
    world.network.count("slave")
    _crash(world, machine, downtime, f" ({len(machine.executors)} executors live on)")


def _crash(world, machine, seconds, note=""):
    """
    Crash C{machine}'s slave process (its executors live on) and start it
    again C{seconds} later if the faults still run (the trace says so, then
    C{note}).
    """
    world.record(f"crash the slave process of {machine.name} for {seconds:.0f}s{note}")
    machine.crash()
    world.clock.callLater(seconds, _restart_slave, world, machine)


def _restart_slave(world, machine):
    if machine.slave is None and world.faulting:
        world.record(f"restart the slave process of {machine.name}")
        machine.restart()


def _kill_executor(world, draw):
    machine = draw.choice(world.machines)
    if not machine.executors:
        return
    process = machine.executors[draw.choice(sorted(machine.executors))]
    world.network.count("executor")
    world.record(f"kill executor {process.key[1]} (pid {process.pid}) on {machine.name}")
    process.kill()


def _fail_over_scheduler(world, draw):
    framework = draw.choice(world.frameworks)
    downtime = draw.uniform(1, 30)
    if not framework.alive:
        return
    world.network.count("scheduler")
    world.record(f"crash the scheduler of {framework.scheduler.name}; it fails over "
                 f"{downtime:.0f}s later")
    framework.crash()
    world.clock.callLater(downtime, _restart_scheduler, world, framework)


def _restart_scheduler(world, framework):
    if not framework.alive and world.faulting:
        world.record(f"start the scheduler of {framework.scheduler.name} again "
                     f"(framework {framework.scheduler.framework_id})")
        framework.start()


def _jump_clock(world, draw):
    processes = [("master", m.upid, m.clock) for m in world.masters if m.alive] + \
        [("slave", m.upid, m.clock) for m in world.machines if m.slave is not None] + \
        [("scheduler", f.scheduler.name, f.clock) for f in world.frameworks if f.alive]
    kind, name, clock = draw.choice(processes)
    seconds = draw.uniform(-300, 300)
    world.network.count("clock")
    world.record(f"the clock of {kind} {name} jumps {seconds:+.0f}s")
    clock.jump(seconds)


def _cut_stream(world, draw):
    subscribed = [f for f in world.frameworks if getattr(f, "stream", None) is not None]
    if not subscribed:
        return
    framework = draw.choice(subscribed)
    world.network.count("stream")
    world.record(f"cut the v1 stream of {framework.scheduler.name}")
    framework.cut()


def _mark_gone(world, draw):
    """
    An operator marks a slave gone (MARK_AGENT_GONE): one that answers, or,
    as when an operator takes a silent machine for dead, one cut off from
    the masters or whose process died, after 1-120 s of its silence (after
    75 s the leader has found it unreachable); it is silent for 5-180 s, so
    it may be back before the operator acts, or come back after, its tasks
    still running.
    """
    machine = draw.choice(world.machines)
    how = draw.choice(("answering", "partitioned", "crashed"))
    dark = draw.uniform(5, 180)
    after = draw.uniform(1, 120)
    if machine.slave_id is None:
        return
    world.network.count("gone")
    note = f"; the operator marks it gone {after:.0f}s after it went silent"
    if how == "partitioned":
        _cut_off(world, machine, dark, note)
    elif how == "crashed" and machine.slave is not None:
        _crash(world, machine, dark, note)
    else:
        after = 0.0
    world.clock.callLater(after, _operator_marks_gone, world, machine, None, GONE_TRIES)


def _operator_marks_gone(world, machine, slave_id, tries):
    """
    The operator calls MARK_AGENT_GONE on the leader (its C{Draining}, not
    over HTTP), and again, as an operator retries an error, until the
    leader has recorded the slave gone or the faults stop.  (Each slave it
    called for is in C{world.marked}: L{_note_gone} finds when it is
    recorded.)
    """
    if not world.faulting or tries == 0:
        return
    slave_id = slave_id or machine.slave_id
    leader = world.leader()
    if leader is not None and slave_id in leader.removed_slaves:
        return
    if leader is not None:
        try:
            leader.draining.mark_gone(slave_id)
            world.marked.setdefault(slave_id, machine.name)
            world.record(f"the operator marks slave {slave_id} ({machine.name}) gone")
        except CallError as error:
            world.record(f"the operator cannot mark slave {slave_id} gone: {error}")
    world.clock.callLater(GONE_RETRY, _operator_marks_gone, world, machine, slave_id, tries - 1)


_ACTIONS = {
    "partition": _partition, "crash": _crash_leader, "zk": _expire_session,
    "slave": _crash_slave, "executor": _kill_executor, "scheduler": _fail_over_scheduler,
    "clock": _jump_clock, "stream": _cut_stream, "gone": _mark_gone,
}


def _stop_faults(world):
    """
    The faults stop: heal every partition, start every process that is
    down.
    """
    world.faulting = False
    world.network.enabled = False
    for machine in world.machines:
        _heal(world, machine)
    for process in world.masters:
        if not process.alive:
            world.record(f"restart master {process.upid}")
            process.start()
    for machine in world.machines:
        if machine.slave is None:
            world.record(f"restart the slave process of {machine.name}")
            machine.restart()
    for framework in world.frameworks:
        if not framework.alive:
            world.record(f"start the scheduler of {framework.scheduler.name} again")
            framework.start()
    world.record("faults stop")


def _note_gone(world):
    """
    Put in C{world.gone} (for C{gone_stays_gone}) each slave the operator
    asked to be marked gone that the leader now lists as removed: before
    each check of the invariants, while the faults run and after (a removal
    written in their last seconds, after the operator's last call, is then
    checked as the world settles and slaves come back).
    """
    leader = world.leader()
    if leader is None:
        return
    for slave_id, name in world.marked.items():
        if slave_id not in world.gone and slave_id in leader.removed_slaves:
            world.gone[slave_id] = world.clock.seconds()
            world.record(f"the leader has recorded slave {slave_id} ({name}) gone")


def _check(world, run, invariants, seen):
    _note_gone(world)
    for invariant in invariants:
        for text in invariant(world):
            if (invariant.__name__, text) not in seen:
                seen.add((invariant.__name__, text))
                run.violations.append((invariant.__name__, world.clock.seconds(), text))
                world.record(f"VIOLATION {invariant.__name__}: {text}")


def simulate(seed, kinds=frozenset(), mutation=None, buggify=False, only=None):
    """
    Run the world of C{seed} with the fault C{kinds} (and the known bug
    C{mutation}, if any; with C{buggify}, faults are far more frequent;
    with C{only}, just those of the seed's scheduled faults); returns its
    L{Run}.
    """
    run = Run(seed)
    world = World(seed, kinds, mutation, buggify=buggify)
    seen = set()
    with world.running():
        world.faulting = True
        _start_faults(world, kinds, only)
        world.start()
        for _ in range(int(FAULT_SECONDS)):
            world.advance(1.0)
            _check(world, run, CONTINUOUS, seen)
        _stop_faults(world)
        for _ in range(int(SETTLE_SECONDS)):
            world.advance(1.0)
            _check(world, run, CONTINUOUS, seen)
        for framework in world.frameworks:
            framework.scheduler.reconcile(framework.driver)
        world.advance(60.0)
        _check(world, run, FINAL, seen)
        run.simulated_seconds = world.clock.seconds()
        run.faults = dict(world.network.faults)
        run.trace = world.trace
    return run


def shrink(seed, kinds, mutation=None, buggify=False):
    """
    The smallest schedule of C{seed} still failing as it does: drop each
    fault kind, then each scheduled fault, whose absence keeps the first
    violated invariant violated (one pass of each, greedy, as delta
    debugging's first step).

    @return: C{(kinds, only, invariant)}, C{only} the indexes of the
        scheduled faults kept (see L{simulate}); L{None} if the seed does
        not fail.
    """
    first = simulate(seed, kinds, mutation, buggify)
    if not first.violations:
        return None
    invariant = first.violations[0][0]

    def fails(kinds, only=None):
        run = simulate(seed, kinds, mutation, buggify, only)
        return any(name == invariant for name, _, _ in run.violations)

    kinds = frozenset(kinds)
    for kind in KINDS:
        if kind in kinds and fails(kinds - {kind}):
            kinds = kinds - {kind}
    only = set(range(len(schedule_faults(seed, kinds, buggify))))
    for index in sorted(only):
        if fails(kinds, only - {index}):
            only.discard(index)
    return kinds, sorted(only), invariant
