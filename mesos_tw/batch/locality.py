"""
Delay scheduling, as the NSDI paper's Hadoop port used it: a task waits up
to the locality wait for an offer on a host holding its input (node
locality), then as long again for one in a rack holding it (rack
locality), and then takes any host.

The levels a task goes through are only those it can have: a task naming
no hosts starts at rack level, one whose racks are unknown (no hosts with
a C{rack} attribute, no racks given) skips it.
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
    The level a waiting task may accept, from how long it has waited.

    @param wait: seconds spent at each level before the next (the paper's
        and C{mesos-batch}'s C{--locality_wait}); 0 takes any host at once.
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

    def _step(self, levels, waited):
        if self.wait == 0:
            return len(levels) - 1
        return min(int(waited // self.wait), len(levels) - 1)

    def allowed(self, hosts, racks, waited):
        """
        The worst level a task may accept after waiting C{waited} seconds.
        """
        levels = self.levels(hosts, racks)
        return levels[self._step(levels, waited)]

    def accepts(self, hosts, racks, waited, level):
        """
        Whether a task that has waited C{waited} seconds takes a placement
        of locality C{level}.
        """
        return _RANK[level] <= _RANK[self.allowed(hosts, racks, waited)]

    def next_change(self, hosts, racks, waited):
        """
        Seconds until the task accepts a worse level, or L{None} when it
        already takes any host.
        """
        levels = self.levels(hosts, racks)
        step = self._step(levels, waited)
        if step == len(levels) - 1:
            return None
        return (step + 1) * self.wait - waited
