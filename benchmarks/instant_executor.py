"""
A long-lived custom executor for the launch benchmark: it answers each
``launchTask`` with TASK_RUNNING and then TASK_FINISHED, so no process is
started per task and the benchmark measures the message path (scheduler
driver, master, slave, executor driver).

    python benchmarks/instant_executor.py     (started by the slave)

Its driver runs on this process's reactor, without a thread.
"""

import sys

from twisted.internet import reactor

from mesos_tw import interface, native
from mesos_tw.interface import mesos_pb2


class InstantExecutor(interface.Executor):
    """
    Finishes every task as soon as it is launched.
    """

    def launchTask(self, driver, task):
        """
        Report the task running, then finished.
        """
        for state in (mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_FINISHED):
            driver.sendStatusUpdate(mesos_pb2.TaskStatus(task_id=task.task_id, state=state))

    def shutdown(self, driver):
        """
        Nothing to clean up.
        """


def main():
    """
    Run until the slave shuts the executor down.
    """
    driver = native.MesosExecutorDriver(InstantExecutor(), reactor=reactor)
    driver.start()
    driver.stopped.addBoth(lambda _: reactor.stop())
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
