"""
One seeded run of a simulated cluster: build the world, let it work while
the seed's faults strike, stop the faults, let it settle, and check every
invariant on the way and at the end.
"""

from dataclasses import dataclass, field

from mesos_tw.simulation.invariants import CONTINUOUS, FINAL
from mesos_tw.simulation.world import World

__all__ = ["FAULT_SECONDS", "MUTATIONS", "Run", "simulate"]

#: Simulated seconds of faults, then of settling (tasks last at most 120 s;
#: a partitioned slave is removed after 75 s without pongs).
FAULT_SECONDS = 600.0
SETTLE_SECONDS = 400.0

#: Known bugs the simulator can put back, to show it finds them.
MUTATIONS = ("drop_ack", "double_offer")


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
    fault phase.
    """
    rng, clock = world.rng, world.clock
    if "network" in kinds:
        world.network.enabled = True
    if "partition" in kinds:
        for _ in range(rng.randint(0, 3)):
            slave = rng.choice(world.slaves)
            start, length = rng.uniform(0, FAULT_SECONDS), rng.uniform(5, 150)
            clock.callLater(start, _partition, world, slave, length)
    if "crash" in kinds:
        for _ in range(rng.randint(0, 3)):
            clock.callLater(rng.uniform(0, FAULT_SECONDS), _crash_leader, world,
                            rng.uniform(2, 40))
    if "zk" in kinds:
        for _ in range(rng.randint(0, 3)):
            clock.callLater(rng.uniform(0, FAULT_SECONDS), _expire_session, world,
                            rng.choice(world.masters))


def _count(world, kind):
    world.network.faults[kind] = world.network.faults.get(kind, 0) + 1


def _partition(world, slave, length):
    _count(world, "partition")
    world.record(f"partition {slave.node.upid} from the masters for {length:.0f}s")
    for master in world.masters:
        world.network.partition(slave.node.upid, master.upid)
    world.clock.callLater(length, _heal, world, slave)


def _heal(world, slave):
    world.record(f"heal {slave.node.upid}")
    for master in world.masters:
        world.network.heal(slave.node.upid, master.upid)


def _crash_leader(world, downtime):
    leading = [m for m in world.masters if m.election is not None and m.election.elected]
    if not leading:
        return
    process = leading[0]
    _count(world, "crash")
    world.record(f"crash the leading master {process.upid} for {downtime:.0f}s")
    process.crash()
    world.clock.callLater(downtime, _restart, world, process)


def _restart(world, process):
    if process.election is None:
        world.record(f"restart master {process.upid}")
        process.start()


def _expire_session(world, process):
    if process.election is None:
        return
    _count(world, "zk")
    world.record(f"expire the ZooKeeper session of {process.upid}")
    process.client.expire()


def _check(world, run, invariants, seen):
    for invariant in invariants:
        for text in invariant(world):
            if (invariant.__name__, text) not in seen:
                seen.add((invariant.__name__, text))
                run.violations.append((invariant.__name__, world.clock.seconds(), text))
                world.record(f"VIOLATION {invariant.__name__}: {text}")


def simulate(seed, kinds=frozenset(), mutation=None):
    """
    Run the world of C{seed} with the fault C{kinds} (and the known bug
    C{mutation}, if any); returns its L{Run}.
    """
    run = Run(seed)
    world = World(seed, kinds, mutation)
    seen = set()
    with world.running():
        _schedule_faults(world, kinds)
        world.start()
        for _ in range(int(FAULT_SECONDS)):
            world.advance(1.0)
            _check(world, run, CONTINUOUS, seen)
        world.network.enabled = False
        for slave in world.slaves:
            _heal(world, slave)
        for process in world.masters:
            _restart(world, process)
        world.record("faults stop")
        for _ in range(int(SETTLE_SECONDS)):
            world.advance(1.0)
            _check(world, run, CONTINUOUS, seen)
        for scheduler, driver in zip(world.schedulers, world.drivers):
            scheduler.reconcile(driver)
        world.advance(60.0)
        _check(world, run, FINAL, seen)
        run.simulated_seconds = world.clock.seconds()
        run.faults = dict(world.network.faults)
        run.trace = world.trace
    return run
