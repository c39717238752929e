"""
One seeded run of a simulated cluster: build the world, let it work while
the seed's faults strike, stop the faults, let it settle, and check every
invariant on the way and at the end.
"""

from dataclasses import dataclass, field

from mesos_tw.simulation.invariants import CONTINUOUS, FINAL
from mesos_tw.simulation.world import World

__all__ = ["FAULT_SECONDS", "MUTATIONS", "Run", "simulate"]

#: Simulated seconds of faults, then of settling (tasks last at most 60 s;
#: a slave cut off is removed after 75 s without pongs).
FAULT_SECONDS = 240.0
SETTLE_SECONDS = 240.0

#: Known bugs the simulator can put back, to show it finds them.
MUTATIONS = ("drop_ack", "forget_removed_slave", "double_offer")


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


def _schedule_faults(world, kinds):
    """
    Decide, from the seed, when each fault of C{kinds} strikes during the
    fault phase (buggify: more of each, and sooner).
    """
    rng, clock = world.rng, world.clock
    low, high = (2, 8) if world.buggify else (0, 3)

    def at_times(kind, action, *arguments):
        if kind in kinds:
            for _ in range(rng.randint(low, high)):
                clock.callLater(rng.uniform(0, FAULT_SECONDS), action, world, *arguments)

    world.network.enabled = "network" in kinds
    at_times("partition", _partition)
    at_times("crash", _crash_leader)
    at_times("zk", _expire_session)
    at_times("slave", _crash_slave)
    at_times("executor", _kill_executor)
    at_times("scheduler", _fail_over_scheduler)
    at_times("clock", _jump_clock)


def _partition(world):
    slave = world.rng.choice(world.machines)
    length = world.rng.uniform(5, 120)
    world.network.count("partition")
    world.record(f"partition {slave.upid} from the masters for {length:.0f}s")
    for master in world.masters:
        world.network.partition(slave.upid, master.upid)
    world.clock.callLater(length, _heal, world, slave)


def _heal(world, slave):
    world.record(f"heal {slave.upid}")
    for master in world.masters:
        world.network.heal(slave.upid, master.upid)


def _crash_leader(world):
    downtime = world.rng.uniform(2, 40)
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


def _expire_session(world):
    process = world.rng.choice(world.masters)
    if not process.alive:
        return
    world.network.count("zk")
    world.record(f"expire the ZooKeeper session of {process.upid}")
    process.client.expire()


def _crash_slave(world):
    machine = world.rng.choice(world.machines)
    downtime = world.rng.uniform(1, 100)
    if machine.slave is None:
        return
    world.network.count("slave")
    world.record(f"crash the slave process of {machine.name} for {downtime:.0f}s "
                 f"({len(machine.executors)} executors live on)")
    machine.crash()
    world.clock.callLater(downtime, _restart_slave, world, machine)


def _restart_slave(world, machine):
    if machine.slave is None and world.faulting:
        world.record(f"restart the slave process of {machine.name}")
        machine.restart()


def _kill_executor(world):
    machine = world.rng.choice(world.machines)
    if not machine.executors:
        return
    process = machine.executors[world.rng.choice(sorted(machine.executors))]
    world.network.count("executor")
    world.record(f"kill executor {process.key[1]} (pid {process.pid}) on {machine.name}")
    process.kill()


def _fail_over_scheduler(world):
    framework = world.rng.choice(world.frameworks)
    downtime = world.rng.uniform(1, 30)
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


def _jump_clock(world):
    processes = [("master", m.upid, m.clock) for m in world.masters if m.alive] + \
        [("slave", m.upid, m.clock) for m in world.machines if m.slave is not None] + \
        [("scheduler", f.scheduler.name, f.clock) for f in world.frameworks if f.alive]
    kind, name, clock = world.rng.choice(processes)
    seconds = world.rng.uniform(-300, 300)
    world.network.count("clock")
    world.record(f"the clock of {kind} {name} jumps {seconds:+.0f}s")
    clock.jump(seconds)


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


def _check(world, run, invariants, seen):
    for invariant in invariants:
        for text in invariant(world):
            if (invariant.__name__, text) not in seen:
                seen.add((invariant.__name__, text))
                run.violations.append((invariant.__name__, world.clock.seconds(), text))
                world.record(f"VIOLATION {invariant.__name__}: {text}")


def simulate(seed, kinds=frozenset(), mutation=None, buggify=False):
    """
    Run the world of C{seed} with the fault C{kinds} (and the known bug
    C{mutation}, if any; with C{buggify}, faults are far more frequent);
    returns its L{Run}.
    """
    run = Run(seed)
    world = World(seed, kinds, mutation, buggify=buggify)
    seen = set()
    with world.running():
        world.faulting = True
        _schedule_faults(world, kinds)
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
