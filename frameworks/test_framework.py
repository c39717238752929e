#!/usr/bin/env python3
"""
The classic Mesos test framework, in the style of Mesos's
examples/python/test_framework.py: it launches TASKS tasks through a custom
Python executor (test_executor.py), which answers each with a framework
message containing a NUL byte to prove messages are binary safe.

    python frameworks/test_framework.py 127.0.0.1:5050 [--tasks 5]

With MESOS_AUTHENTICATE=1, DEFAULT_PRINCIPAL and DEFAULT_SECRET, it
authenticates with that credential, as Mesos's example does.

Apart from its imports (mesos_tw.interface, mesos_tw.native) this is
written exactly as for Mesos's own Python bindings.
"""

import argparse
import os
import sys

import mesos_tw.interface
import mesos_tw.native
from mesos_tw.interface import mesos_pb2

TASK_CPUS = 0.1
TASK_MEM = 32
EXPECTED_MESSAGE = b"data with a \0 byte"
EXECUTOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_executor.py")


class TestScheduler(mesos_tw.interface.Scheduler):
    """
    Launches the tasks on whatever offers fit, and stops when all are done.
    """

    def __init__(self, executor, total_tasks):
        self.executor = executor
        self.total_tasks = total_tasks
        self.launched = 0
        self.finished = 0
        self.messages = 0
        self.problems = []

    def registered(self, driver, frameworkId, masterInfo):
        print(f"Registered as framework {frameworkId.value} with master {masterInfo.pid}")

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
            tasks = []
            while self.launched < self.total_tasks and cpus >= TASK_CPUS and mem >= TASK_MEM:
                tid = self.launched
                self.launched += 1
                print(f"Launching task {tid} on slave {offer.slave_id.value}")
                task = mesos_pb2.TaskInfo()
                task.task_id.value = str(tid)
                task.slave_id.value = offer.slave_id.value
                task.name = f"task {tid}"
                task.executor.MergeFrom(self.executor)
                resource = task.resources.add()
                resource.name = "cpus"
                resource.type = mesos_pb2.Value.SCALAR
                resource.scalar.value = TASK_CPUS
                resource = task.resources.add()
                resource.name = "mem"
                resource.type = mesos_pb2.Value.SCALAR
                resource.scalar.value = TASK_MEM
                tasks.append(task)
                cpus -= TASK_CPUS
                mem -= TASK_MEM
            driver.launchTasks(offer.id, tasks)

    def statusUpdate(self, driver, update):
        name = mesos_pb2.TaskState.Name(update.state)
        print(f"Task {update.task_id.value} is in state {name}")
        if update.state == mesos_pb2.TASK_FINISHED:
            self.finished += 1
        elif update.state in (mesos_pb2.TASK_LOST, mesos_pb2.TASK_KILLED,
                              mesos_pb2.TASK_FAILED, mesos_pb2.TASK_ERROR):
            self.problems.append(f"task {update.task_id.value} ended {name}: {update.message}")
            driver.stop()
        self._maybe_done(driver)

    def frameworkMessage(self, driver, executorId, slaveId, message):
        self.messages += 1
        if message != EXPECTED_MESSAGE:
            self.problems.append(f"unexpected framework message {message!r}")
        print(f"Received framework message {message!r} from executor {executorId.value}")
        self._maybe_done(driver)

    def error(self, driver, message):
        self.problems.append(f"error: {message}")

    def _maybe_done(self, driver):
        if self.finished == self.total_tasks and self.messages == self.total_tasks:
            print(f"All {self.total_tasks} tasks finished; every framework message arrived intact")
            driver.stop()


def main():
    parser = argparse.ArgumentParser(description="The classic Mesos test framework.")
    parser.add_argument("master", help="host:port of the master")
    parser.add_argument("--tasks", type=int, default=5)
    options = parser.parse_args()

    executor = mesos_pb2.ExecutorInfo()
    executor.executor_id.value = "default"
    executor.command.value = f"{sys.executable} {EXECUTOR}"
    executor.name = "Test Executor (Python)"
    executor.source = "python_test"

    framework = mesos_pb2.FrameworkInfo()
    framework.user = ""  # Have Mesos fill in the current user.
    framework.name = "Test Framework (Python)"

    scheduler = TestScheduler(executor, options.tasks)
    credential = None
    # As Mesos's example: MESOS_AUTHENTICATE=1 with DEFAULT_PRINCIPAL and
    # DEFAULT_SECRET authenticates the framework (docs/security.md).
    if os.getenv("MESOS_AUTHENTICATE"):
        credential = mesos_pb2.Credential(principal=os.environ["DEFAULT_PRINCIPAL"],
                                          secret=os.environ["DEFAULT_SECRET"])
        framework.principal = credential.principal
    driver = mesos_tw.native.MesosSchedulerDriver(
        scheduler, framework, options.master, True, credential)
    status = driver.run()
    for problem in scheduler.problems:
        print(f"PROBLEM: {problem}")
    ok = status == mesos_pb2.DRIVER_STOPPED and not scheduler.problems
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
