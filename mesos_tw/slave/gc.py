"""
Sandbox garbage collection (Mesos's C{GarbageCollector}): directories are
scheduled for removal after a delay; the slave shortens the delays as its
disk fills (L{max_age}), and a directory that is needed again is
unscheduled.
"""

import os
import shutil
from collections import deque

from twisted.internet.defer import Deferred
from twisted.logger import Logger

__all__ = ["GarbageCollector", "disk_usage", "max_age"]

#: How many collected paths are remembered, to say why one is missing.
REMEMBERED = 4096


def max_age(gc_delay, headroom, usage):
    """
    How old a sandbox may get at disk C{usage} (a fraction): Mesos's
    C{gc_delay * max(0, 1 - headroom - usage)}.
    """
    return gc_delay * max(0.0, 1.0 - headroom - usage)


def disk_usage(path):
    """
    The fraction of the filesystem holding C{path} that is in use.
    """
    stat = os.statvfs(path)
    total = stat.f_blocks * stat.f_frsize
    if total == 0:
        return 0.0
    return 1.0 - (stat.f_bavail * stat.f_frsize) / total


class _Scheduled:
    def __init__(self, path, removal_time, done):
        self.path = path
        self.removal_time = removal_time
        self.done = done


class GarbageCollector:
    """
    Removes scheduled paths once their time comes.

    @param clock: when things are due (an C{IReactorTime}).
    @param in_use: C{in_use(path)} says whether a path holds something
        still needed (a live executor's sandbox); such a path is kept,
        and its schedule dropped, when it comes due.
    @param remove: removes a path (a directory tree, or a file).
    """

    log = Logger()

    def __init__(self, clock, in_use=lambda path: False, remove=None):
        self._clock = clock
        self._in_use = in_use
        self._remove = remove or _remove_tree
        self._scheduled = {}
        self._timer = None
        self._stopped = False
        self.collected = deque(maxlen=REMEMBERED)

    def schedule(self, delay, path):
        """
        Remove C{path} in C{delay} seconds (again from now if it was
        already scheduled).

        @return: a Deferred firing with L{True} once it is removed, or
            with L{False} if it is unscheduled or kept because in use.
        """
        old = self._scheduled.pop(path, None)
        if old is not None:
            old.done.callback(False)
        entry = self._scheduled[path] = _Scheduled(
            path, self._clock.seconds() + max(0.0, delay), Deferred())
        # Re-arming looks at every entry: only when this one is due first
        # (a slave schedules a sandbox per finished executor, thousands).
        if self._timer is None or entry.removal_time < self._timer.getTime():
            self._arm()
        return entry.done

    def unschedule(self, path):
        """
        Do not remove C{path} after all.

        @return: whether it was scheduled.
        """
        entry = self._scheduled.pop(path, None)
        if entry is None:
            return False
        entry.done.callback(False)
        if not self._scheduled:
            self._cancel()
        return True

    def unschedule_above(self, path):
        """
        Unschedule C{path} and every scheduled directory that holds it
        (a new run inside a collected framework's directory needs them).
        """
        # By the path's ancestors, not by every scheduled path: this runs
        # for every launch.
        holder = path.rstrip(os.sep) or os.sep
        while True:
            self.unschedule(holder)
            self.unschedule(holder + os.sep)
            parent = os.path.dirname(holder)
            if parent == holder:
                break
            holder = parent

    def prune(self, delay):
        """
        Remove now everything due within C{delay} seconds (the disk is
        filling).
        """
        self._collect(self._clock.seconds() + delay)

    def scheduled(self):
        """
        C{{path: removal time}} of what is scheduled.
        """
        return {path: entry.removal_time for path, entry in self._scheduled.items()}

    def was_collected(self, path):
        """
        Whether C{path} is, or is inside, a path this collector removed.
        """
        for collected in self.collected:
            if path == collected or path.startswith(collected.rstrip(os.sep) + os.sep):
                return True
        return False

    def stop(self):
        """
        Stop the timer for good (the slave is going; what is scheduled is
        scheduled again by the next slave, from the sandboxes' ages).
        """
        self._stopped = True
        self._cancel()

    def _cancel(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _arm(self):
        self._cancel()
        if not self._scheduled or self._stopped:
            return
        due = min(entry.removal_time for entry in self._scheduled.values())
        self._timer = self._clock.callLater(max(0.0, due - self._clock.seconds()), self._due)

    def _due(self):
        self._timer = None
        self._collect(self._clock.seconds())

    def _collect(self, until):
        due = sorted((entry for entry in self._scheduled.values() if entry.removal_time <= until),
                     key=lambda entry: entry.removal_time)
        for entry in due:
            del self._scheduled[entry.path]
            if self._in_use(entry.path):
                self.log.info("Not removing {path}: it is in use again", path=entry.path)
                entry.done.callback(False)
                continue
            try:
                self._remove(entry.path)
            except OSError as error:
                self.log.warn("Could not remove {path}: {error}", path=entry.path,
                              error=error.strerror or str(error))
                entry.done.callback(False)
                continue
            self.log.info("Removed {path}", path=entry.path)
            self.collected.append(entry.path)
            entry.done.callback(True)
        self._arm()


def _remove_tree(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
