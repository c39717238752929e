"""
What the slave checkpoints under C{<work_dir>/meta/} (the layout is in
L{mesos_tw.slave.paths}), for frameworks whose C{FrameworkInfo.checkpoint}
is set, so that a restarted slave finds their executors again: its own
C{SlaveInfo}; each framework's info and scheduler UPID; each executor's
info and runs (the pid it was forked as, with that process's start time,
and the UPID it registered from); each task's C{Task} and its status
update stream (written by L{mesos_tw.slave.status_updates}); and a
sentinel once a run has ended.  Mixed into L{mesos_tw.slave.slave.Slave}.

Every file is written whole and atomically
(L{mesos_tw.slave.checkpoint.checkpoint}); a write that fails is logged
and leaves the old file, never a torn one.
"""

import os

from mesos_tw.isolation._containers import process_start_time
from mesos_tw.slave import paths
from mesos_tw.slave.checkpoint import checkpoint

__all__ = ["SlaveCheckpointing"]


class SlaveCheckpointing:
    """
    Checkpointing, for the L{Slave}.
    """

    @staticmethod
    def _checkpoints(framework):
        """
        Whether C{framework} (a L{FrameworkRecord}) is checkpointed.
        """
        return framework.info.checkpoint

    def _checkpoint_slave(self):
        """
        Our C{SlaveInfo}, once we have an id; C{meta/slaves/latest} names it.
        """
        checkpoint(paths.slave_info_path(self.work_dir, self.id), self.info())
        try:
            paths.point_latest(paths.slaves_meta_directory(self.work_dir), self.id)
        except OSError as error:
            self.log.error("Failed to checkpoint the latest slave id {slave_id}: {error}",
                           slave_id=self.id, error=error.strerror)

    def _checkpoint_framework(self, framework):
        """
        A framework's info and its scheduler's UPID.
        """
        if not self._checkpoints(framework):
            return
        directory = paths.framework_meta_directory(self.work_dir, self.id, framework.id)
        checkpoint(os.path.join(directory, "framework.info"), framework.info)
        checkpoint(os.path.join(directory, "framework.pid"), str(framework.pid))

    def _checkpoint_framework_pid(self, framework):
        """
        A framework's new scheduler UPID.
        """
        if self._checkpoints(framework):
            directory = paths.framework_meta_directory(self.work_dir, self.id, framework.id)
            checkpoint(os.path.join(directory, "framework.pid"), str(framework.pid))

    def _run_meta(self, executor):
        return paths.run_meta_directory(self.work_dir, self.id, executor.framework_id,
                                        executor.id, executor.run_id)

    def _checkpoint_executor(self, framework, executor, launched_info):
        """
        A new executor run: the C{ExecutorInfo} it is launched with, and
        C{runs/latest} naming the run.
        """
        if not self._checkpoints(framework):
            return
        directory = paths.executor_meta_directory(self.work_dir, self.id, framework.id,
                                                  executor.id)
        checkpoint(os.path.join(directory, "executor.info"), launched_info)
        try:
            os.makedirs(self._run_meta(executor), exist_ok=True)
            paths.point_latest(os.path.join(directory, "runs"), executor.run_id)
        except OSError as error:
            self.log.error("Failed to checkpoint the run of executor {executor_id}: {error}",
                           executor_id=executor.id, error=error.strerror)

    def _checkpoint_forked_pid(self, framework, executor, pid):
        """
        The pid the executor was launched as, and when that process started.
        """
        if not self._checkpoints(framework) or pid is None:
            return
        pids = os.path.join(self._run_meta(executor), "pids")
        started = process_start_time(pid)
        if started is not None:
            checkpoint(os.path.join(pids, "forked.starttime"), str(started))
        checkpoint(os.path.join(pids, "forked.pid"), str(pid))

    def _checkpoint_libprocess_pid(self, framework, executor):
        """
        The UPID the executor (re)registered from, unless that is the one
        already checkpointed (an executor subscribing again after the
        slave restarted: no write, no fsync, on the recovery path).
        """
        if not self._checkpoints(framework) or executor.pid is None:
            return
        upid = str(executor.pid)
        if upid != executor.checkpointed_pid and checkpoint(
                os.path.join(self._run_meta(executor), "pids", "libprocess.pid"), upid):
            executor.checkpointed_pid = upid

    def _task_meta(self, executor, task_id):
        return os.path.join(self._run_meta(executor), "tasks", task_id)

    def _checkpoint_task(self, framework, executor, task):
        """
        A task (a C{Task}) given to the executor, queued or sent.
        """
        if self._checkpoints(framework):
            checkpoint(os.path.join(self._task_meta(executor, task.task_id.value), "task.info"),
                       task)

    def _updates_path(self, framework, executor, task_id):
        """
        Where a task's status update stream is checkpointed, or L{None}
        for a framework that does not checkpoint.
        """
        if framework is None or executor is None or not self._checkpoints(framework):
            return None
        return os.path.join(self._task_meta(executor, task_id), "task.updates")

    def _checkpoint_run_ended(self, framework, executor):
        """
        The run has ended: its sentinel says so to a restarted slave.
        """
        if self._checkpoints(framework):
            checkpoint(os.path.join(self._run_meta(executor), "executor.sentinel"), "ended\n")
