"""
The DRF sorter: clients (roles, or the frameworks of one role) kept in
order of weighted dominant share, updated incrementally.

A client's dominant share is its largest fraction of any scalar resource
of the cluster; divided by its weight, it is the client's place in line.
Each change to one client's allocation moves only that client (a bisection
and a list insertion), so an allocation cycle never re-sorts everything;
only a change of the cluster's totals (slaves coming or going) marks the
order for a full re-sort, done once, the next time the order is read.
"""

from bisect import bisect_left, insort

__all__ = ["DRFSorter", "dominant_share"]


def dominant_share(allocated, totals):
    """
    The largest fraction of any of C{totals} (C{{name: amount}}) that
    C{allocated} holds.
    """
    share = 0.0
    for resource, amount in allocated.items():
        total = totals.get(resource, 0.0)
        if total > 0.0 and amount / total > share:
            share = amount / total
    return share


class _Client:
    """
    One client's allocation (scalar amounts) and weight.

    @ivar rank: the client's place among the sorter's clients in name order
        (ranks may skip numbers): ties of share go by rank, which compares
        faster than the names it stands for.
    """

    __slots__ = ("name", "weight", "allocated", "share", "rank", "key")

    def __init__(self, name, weight, rank):
        self.name = name
        self.weight = weight
        self.allocated = {}
        self.share = 0.0
        self.rank = rank
        self.key = None


class DRFSorter:
    """
    Clients in ascending order of C{dominant share / weight}, ties by name.

    @ivar totals: the cluster's scalar totals, C{{name: amount}}.
    """

    def __init__(self):
        self.totals = {}
        self._clients = {}
        self._keys = []
        self._dirty = False
        # The largest name given a rank, and the next rank to give.
        self._last = None
        self._next_rank = 0

    def __contains__(self, name):
        return name in self._clients

    def __len__(self):
        return len(self._clients)

    def add(self, name, weight=1.0):
        """
        Add a client with nothing allocated (nothing if it is present).
        """
        if name in self._clients:
            return
        if self._last is None or name > self._last:
            client = self._clients[name] = _Client(name, weight, self._next_rank)
            self._next_rank += 1
            self._last = name
            self._place(client)
            return
        # A name that sorts among the others' (rare: framework ids grow):
        # every rank is given again, and the line re-sorted when next read.
        self._clients[name] = _Client(name, weight, None)
        names = sorted(self._clients)
        for rank, other in enumerate(names):
            self._clients[other].rank = rank
        self._next_rank = len(names)
        self._last = names[-1]
        self._dirty = True

    def remove(self, name):
        """
        Remove a client (nothing if it is absent).
        """
        client = self._clients.pop(name, None)
        if client is not None:
            self._unplace(client)

    def set_weight(self, name, weight):
        """
        Change a client's weight.
        """
        client = self._clients[name]
        self._unplace(client)
        client.weight = weight
        self._place(client)

    def allocated(self, name, scalars, sign=1):
        """
        Add (C{sign} 1) or take back (C{sign} -1) C{scalars} (C{{name:
        amount}}) to a client's allocation, and move it in line.
        """
        client = self._clients[name]
        self._unplace(client)
        held = client.allocated
        for resource, amount in scalars.items():
            left = held.get(resource, 0.0) + sign * amount
            if left > 1e-9:
                held[resource] = left
            else:
                held.pop(resource, None)
        self._place(client)

    def grow_with(self, name, index, parent, parent_name, parent_index, scalars):
        """
        Add C{scalars} to the allocation of a client of this sorter and to
        that of its group in C{parent} (a framework, and its role in the
        sorter of roles), and move both back in line: L{allocated} with
        C{sign} 1 on both, in one pass.

        What the allocator does for each offer of a cycle, so written out.
        An addition can only raise a share, so the new share is the old one
        or a fraction of a resource just added to (the same arithmetic as
        L{dominant_share}); and a client can only move back, so its new
        place is searched for from its old one.

        Both sorters must have the same totals (the allocator gives every
        sorter the cluster's), which are read from this one, and both their
        lines must be current (read since the last change of totals).

        @param index: where the client is in this sorter's L{line}.
        @param parent_index: where C{parent_name} is in C{parent}'s line.
        """
        client = self._clients[name]
        group = parent._clients[parent_name]
        keys, parent_keys = self._keys, parent._keys
        del keys[index]
        del parent_keys[parent_index]
        held, group_held = client.allocated, group.allocated
        totals = self.totals
        share, group_share = client.share, group.share
        for resource, amount in scalars.items():
            # (try costs nothing when nothing is raised: cheaper here than
            # get)
            try:
                left = held[resource] + amount
            except KeyError:
                left = amount
            held[resource] = left
            try:
                group_left = group_held[resource] + amount
            except KeyError:
                group_left = amount
            group_held[resource] = group_left
            try:
                total = totals[resource]
                fraction = left / total
                group_fraction = group_left / total
            except (KeyError, ZeroDivisionError):
                continue
            if fraction > share:
                share = fraction
            if group_fraction > group_share:
                group_share = group_fraction
        client.share = share
        key = client.key = (share / client.weight, client.rank, name)
        insort(keys, key, index)
        group.share = group_share
        key = group.key = (group_share / group.weight, group.rank, parent_name)
        insort(parent_keys, key, parent_index)

    def allocation(self, name):
        """
        A client's scalar allocation (a copy).
        """
        return dict(self._clients[name].allocated)

    def set_totals(self, totals):
        """
        The cluster's scalar totals changed: every share changes.

        @param totals: C{{name: amount}}, kept, not copied: the caller must
            not change it afterwards (the allocator gives every sorter the
            same one, made anew at each change: a new leader adds slaves by
            the thousand).
        """
        self.totals = totals
        self._dirty = True

    def share(self, name):
        """
        A client's dominant share (not weighted).
        """
        return self._share(self._clients[name])

    def order(self):
        """
        The client names, first in line first (a new list).
        """
        if self._dirty:
            self._resort()
        return [key[2] for key in self._keys]

    def line(self):
        """
        The line itself: the sorter's list of C{(weighted share, rank,
        name)} keys, first in line first (the rank orders names).  For a caller's inner loop: it must not
        be kept, nor read across a change to the sorter.
        """
        if self._dirty:
            self._resort()
        return self._keys

    # Keeping the line.

    def _share(self, client):
        return dominant_share(client.allocated, self.totals)

    def _place(self, client):
        if self._dirty:
            # The re-sort due computes every share and key (a line due for
            # one is not kept meanwhile: a new leader charges thousands of
            # slaves' work after the totals changed).
            return
        client.share = self._share(client)
        client.key = (client.share / client.weight, client.rank, client.name)
        insort(self._keys, client.key)

    def _unplace(self, client):
        if self._dirty or client.key is None:
            return
        index = bisect_left(self._keys, client.key)
        if index < len(self._keys) and self._keys[index] == client.key:
            del self._keys[index]

    def _resort(self):
        for client in self._clients.values():
            client.share = self._share(client)
            client.key = (client.share / client.weight, client.rank, client.name)
        self._keys = sorted(client.key for client in self._clients.values())
        self._dirty = False
