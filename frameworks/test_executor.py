#!/usr/bin/env python3
"""
The executor of the classic test framework: for each task it reports
TASK_RUNNING, sends the scheduler a framework message with a NUL byte in it,
and reports TASK_FINISHED.  Launched by the slave, which tells it where the
slave is through the environment.
"""

import sys

import mesos_tw.interface
import mesos_tw.native
from mesos_tw.interface import mesos_pb2


class TestExecutor(mesos_tw.interface.Executor):
    """
    Finishes every task at once.
    """

    def launchTask(self, driver, task):
        print(f"Running task {task.task_id.value}", flush=True)
        update = mesos_pb2.TaskStatus()
        update.task_id.value = task.task_id.value
        update.state = mesos_pb2.TASK_RUNNING
        driver.sendStatusUpdate(update)

        driver.sendFrameworkMessage(b"data with a \0 byte")

        update = mesos_pb2.TaskStatus()
        update.task_id.value = task.task_id.value
        update.state = mesos_pb2.TASK_FINISHED
        driver.sendStatusUpdate(update)
        print(f"Finished task {task.task_id.value}", flush=True)

    def shutdown(self, driver):
        print("Shutting down", flush=True)


if __name__ == "__main__":
    print("Starting executor", flush=True)
    driver = mesos_tw.native.MesosExecutorDriver(TestExecutor())
    sys.exit(0 if driver.run() == mesos_pb2.DRIVER_STOPPED else 1)
