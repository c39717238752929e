"""
Which sandboxes the slave's garbage collector (L{mesos_tw.slave.gc})
removes, and when, as in Mesos: the sandbox (and checkpointed run) of an
executor run that has ended, and the directories of a framework that has
left the slave, each C{--gc_delay} after it was last changed; sooner as the
disk fills (every C{--disk_watch_interval} the slave prunes what is older
than C{gc_delay * max(0, 1 - gc_disk_headroom - disk usage)}).  A restarted
slave schedules again every sandbox it finds not in use, by its age, so
the schedule survives restarts.  A directory in use (a live executor's
run, or one holding it) is never removed.  Mixed into
L{mesos_tw.slave.slave.Slave}.
"""

import glob
import os

from twisted.internet.task import LoopingCall

from mesos_tw.slave import paths
from mesos_tw.constants import LOG_FILES_KEPT, LOG_ROTATION_INTERVAL
from mesos_tw.slave.gc import max_age
from mesos_tw.slave.logrotate import rotate

__all__ = ["SandboxCollection"]


class SandboxCollection:
    """
    Sandbox garbage collection, for the L{Slave}.
    """

    def _in_use(self, path):
        """
        Whether C{path} is a live executor's sandbox or run directory, or
        holds one, or is inside one.
        """
        prefix = path.rstrip(os.sep) + os.sep
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                for live in (executor.directory, self._run_meta(executor)):
                    if live == path or live.startswith(prefix) or path.startswith(live + os.sep):
                        return True
        return False

    def _schedule_gc(self, path):
        """
        Remove C{path} C{gc_delay} after it last changed (at once if that
        is past).
        """
        try:
            changed = os.stat(path).st_mtime
        except OSError:
            return
        age = max(0.0, self.reactor.seconds() - changed)
        self.gc.schedule(self.gc_delay - age, path)

    def _schedule_sandbox_gc(self, framework, executor):
        """
        An executor run has ended: its sandbox and checkpointed run go
        after C{gc_delay}.
        """
        self._schedule_gc(executor.directory)
        self._schedule_gc(self._run_meta(executor))

    def _schedule_framework_gc(self, framework):
        """
        A framework has left the slave: its directories go after
        C{gc_delay}.
        """
        if self.id is None:
            return
        self._schedule_gc(os.path.join(self.work_dir, "slaves", self.id, "frameworks",
                                       framework.id))
        self._schedule_gc(paths.framework_meta_directory(self.work_dir, self.id, framework.id))

    def _unschedule_for_launch(self, executor):
        """
        A new run is made: nothing that holds it may be removed.
        """
        self.gc.unschedule_above(executor.directory)
        self.gc.unschedule_above(self._run_meta(executor))

    def _schedule_leftover_sandboxes(self):
        """
        At start: every run sandbox not in use (left by an earlier slave,
        or by this one before it restarted) is scheduled by its age.
        """
        pattern = os.path.join(self.work_dir, "slaves", "*", "frameworks", "*", "executors", "*",
                               "runs", "*")
        scheduled = self.gc.scheduled()
        for path in glob.glob(pattern):
            if os.path.islink(path) or path in scheduled or self._in_use(path):
                continue
            self._schedule_gc(path)

    def _start_disk_watch(self):
        """
        Prune by disk usage every C{disk_watch_interval}.
        """
        self._disk_watch = LoopingCall(self._check_disk)
        self._disk_watch.clock = self.reactor
        self._disk_watch.start(self.disk_watch_interval, now=True)

    def _check_disk(self):
        try:
            usage = self.disk_usage(self.work_dir)
        except OSError as error:
            self.log.warn("Cannot read the disk usage of {work_dir}: {error}",
                          work_dir=self.work_dir, error=error.strerror)
            return
        age = max_age(self.gc_delay, self.gc_disk_headroom, usage)
        if age < self.gc_delay:
            self.log.info("Disk usage is {usage:.1%}: pruning sandboxes older than {age:g} s",
                          usage=usage, age=age)
        self.gc.prune(self.gc_delay - age)

    def _start_log_rotation(self):
        """
        With C{sandbox_log_max_size}, check the live executors' C{stdout}
        and C{stderr} every L{LOG_ROTATION_INTERVAL} seconds.
        """
        if self.sandbox_log_max_size is None:
            return
        self._log_rotation = LoopingCall(self._rotate_logs)
        self._log_rotation.clock = self.reactor
        self._log_rotation.start(LOG_ROTATION_INTERVAL, now=False)

    def _rotate_logs(self):
        """
        Rotate each live executor's log that has passed the cap
        (L{mesos_tw.slave.logrotate}).
        """
        for framework in self.frameworks.values():
            for executor in framework.executors.values():
                for name in ("stdout", "stderr"):
                    path = os.path.join(executor.directory, name)
                    try:
                        if os.stat(path).st_size <= self.sandbox_log_max_size:
                            continue
                        rotate(path, LOG_FILES_KEPT)
                    except FileNotFoundError:
                        continue
                    except OSError as error:
                        self.log.warn("Could not rotate {path}: {error}", path=path,
                                      error=error.strerror)

    def _stop_gc(self):
        if self._disk_watch is not None and self._disk_watch.running:
            self._disk_watch.stop()
        if self._log_rotation is not None and self._log_rotation.running:
            self._log_rotation.stop()
        self.gc.stop()

