"""
Delay scheduling, as the NSDI paper's Hadoop port used it (Zaharia et
al.'s algorithm, with levels): a job that is offered room it could use but
has no task whose input is on that host is I{skipped}; once it has been
skipped for the locality wait it may launch tasks in a rack holding their
input, and after as long again anywhere.  Launching a task puts the job
back at that task's level, so a job that launches a node-local task waits
for node locality again.  The wait counts only while the job is skipped:
a job queued behind others in a full cluster keeps its locality.

The levels a task goes through are only those it can have: for a task
naming no hosts the job's first step is rack level, for one whose racks
are unknown (no hosts with a C{rack} attribute, no racks given) rack level
is skipped.
"""

__all__ = ["ANY", "LEVELS", "NODE", "RACK", "DelayScheduling", "placement_level", "rank"]

NODE = "node"
RACK = "rack"
ANY = "any"

#: The levels from best to worst.
LEVELS = (NODE, RACK, ANY)

_RANK = {level: number for number, level in enumerate(LEVELS)}


def rank(level):
    """
    0 for node, 1 for rack, 2 for any: lower is better.
    """
    return _RANK[level]


def placement_level(hosts, racks, hostname, rack):
    """
    The locality a task whose input is on C{hosts} (and in C{racks}) has
    when it runs on C{hostname}, in C{rack} (L{None} when the slave has no
    C{rack} attribute).
    """
    if hostname in hosts:
        return NODE
    if rack is not None and rack in racks:
        return RACK
    return ANY


class DelayScheduling:
    """
    The level a job's tasks may accept, from how long it has been skipped.

    A job's I{step} is 0 (each task's best level), 1 or 2 (any); a task's
    allowed level is its own level list at that step.

    @param wait: seconds a job is skipped at a step before the next (the
        paper's and C{mesos-batch}'s C{--locality_wait}); 0 takes any host
        at once.
    """

    def __init__(self, wait):
        if wait < 0:
            raise ValueError(f"the locality wait must not be negative, got {wait!r}")
        self.wait = wait

    @staticmethod
    def levels(hosts, racks):
        """
        The levels a task goes through, best first.
        """
        levels = []
        if hosts:
            levels.append(NODE)
        if racks:
            levels.append(RACK)
        levels.append(ANY)
        return levels

    def step(self, base, skipped_for):
        """
        A job's step: C{base} (where its last launch left it), one more
        for each wait it has been skipped (C{skipped_for} seconds, L{None}
        when it is not being skipped).
        """
        if self.wait == 0:
            return len(LEVELS) - 1
        if skipped_for is None:
            return base
        return min(base + int(skipped_for // self.wait), len(LEVELS) - 1)

    def allowed(self, hosts, racks, step):
        """
        The worst level a task may accept at its job's C{step}.
        """
        levels = self.levels(hosts, racks)
        return levels[min(step, len(levels) - 1)]

    def accepts(self, hosts, racks, step, level):
        """
        Whether a task takes a placement of locality C{level} at its job's
        C{step}.
        """
        return _RANK[level] <= _RANK[self.allowed(hosts, racks, step)]

    def step_of(self, hosts, racks, level):
        """
        The step a job is at after launching a task at C{level}.
        """
        levels = self.levels(hosts, racks)
        return levels.index(level) if level in levels else len(levels) - 1

    def next_change(self, step, skipped_for):
        """
        Seconds until a job at C{step}, skipped for C{skipped_for} seconds
        (L{None}: not yet), reaches its next step; L{None} at the last.
        """
        if self.wait == 0 or step >= len(LEVELS) - 1:
            return None
        if skipped_for is None:
            return self.wait
        return self.wait - skipped_for % self.wait
