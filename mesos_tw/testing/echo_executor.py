"""
An executor for failover tests and benchmarks: its tasks run until told
otherwise, so they must survive whatever happens to the masters.

    python -m mesos_tw.testing.echo_executor

- Every task goes C{TASK_RUNNING} at once and stays so.
- A task whose C{data} names a file finishes (C{TASK_FINISHED}) once that
  file exists: a test creates it at the moment it wants an update sent,
  for instance while no master leads.
- A framework message comes back to the scheduler prefixed with C{echo:}.
- A killed task reports C{TASK_KILLED}.
"""

import os
import sys
import threading
import time

import mesos_tw.interface
import mesos_tw.native
from mesos_tw.interface import mesos_pb2

__all__ = ["EchoExecutor", "main"]

#: How often a task waiting for its file looks for it.
POLL_SECONDS = 0.02


class EchoExecutor(mesos_tw.interface.Executor):
    """
    Runs tasks until they are killed or their file appears; echoes
    framework messages.
    """

    def _send(self, driver, task_id, state):
        status = mesos_pb2.TaskStatus()
        status.task_id.CopyFrom(task_id)
        status.state = state
        driver.sendStatusUpdate(status)

    def launchTask(self, driver, task):
        """
        Report the task running; watch for its file if it names one.
        """
        self._send(driver, task.task_id, mesos_pb2.TASK_RUNNING)
        if task.data:
            path = task.data.decode("utf-8")
            threading.Thread(target=self._finish_when_present,
                             args=(driver, task.task_id, path), daemon=True).start()

    def _finish_when_present(self, driver, task_id, path):
        while not os.path.exists(path):
            time.sleep(POLL_SECONDS)
        self._send(driver, task_id, mesos_pb2.TASK_FINISHED)

    def killTask(self, driver, taskId):
        """
        Report the task killed.
        """
        self._send(driver, taskId, mesos_pb2.TASK_KILLED)

    def frameworkMessage(self, driver, message):
        """
        Send the message back, prefixed with C{echo:}.
        """
        driver.sendFrameworkMessage(b"echo:" + message)


def main():
    """
    Run the executor under the slave that started it.
    """
    driver = mesos_tw.native.MesosExecutorDriver(EchoExecutor())
    return 0 if driver.run() == mesos_pb2.DRIVER_STOPPED else 1


if __name__ == "__main__":
    sys.exit(main())
