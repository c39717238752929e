"""
What must hold in every simulated world: each invariant is a function of
the world that returns a list of violations (text), empty when it holds.
L{CONTINUOUS} are checked every simulated second; L{FINAL} once the faults
have stopped and the world has settled.
"""

from mesos_tw.resources import Resources
from mesos_tw.simulation.actors import TERMINAL
from mesos_tw.slave.slave import TERMINATING_SLAVE

__all__ = ["CONTINUOUS", "FINAL"]


def _name(state):
    from mesos_tw.protocols import mesos_pb2

    return mesos_pb2.TaskState.Name(state)


def _leaders(world):
    return [m for m in world.masters
            if m.election is not None and m.election.master is not None
            and m.election.elected]


def one_leader(world):
    """
    No two masters act as leader at once (each acts only in a term ZooKeeper
    confirmed, and a term ends before another master's begins).
    """
    leaders = _leaders(world)
    if len(leaders) > 1:
        return [f"{len(leaders)} masters lead at once: "
                f"{', '.join(str(m.upid) for m in leaders)}"]
    return []


def terminal_once(world):
    """
    A framework hears of a task's end once: after a terminal update (which
    its driver acknowledged) nothing more about the task reaches it.  The
    one exception is Mesos's (1.5 and later): a C{TASK_LOST} that carries
    an C{unreachable_time} (its slave was found unreachable) is followed by
    the task's state again if the slave comes back and is re-admitted.
    (C{TASK_UNREACHABLE} is not terminal.)
    """
    violations = []
    for scheduler in world.schedulers:
        for task_id, states in scheduler.updates.items():
            ends = [i for i, state in enumerate(states) if state in TERMINAL
                    and (task_id, i) not in scheduler.unreachable_losses]
            if ends and ends[0] != len(states) - 1:
                violations.append(
                    f"{task_id}: {' -> '.join(_name(s) for s in states)} "
                    "(an update after its terminal one)")
    return violations


def offers_within_totals(world):
    """
    On the leading master, what is offered plus what tasks and executors
    use on a slave never exceeds the slave's total: nothing is offered
    twice.
    """
    violations = []
    for process in _leaders(world):
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
    leaders = _leaders(world)
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


CONTINUOUS = (one_leader, terminal_once, offers_within_totals, no_task_runs_twice)
FINAL = CONTINUOUS + (every_task_ends, updates_acknowledged, views_agree)
