#!/usr/bin/env python3
"""
A framework with no executor of its own: each task is a shell command run by
the slave's built-in command executor (Mesos's no_executor_framework).

    python frameworks/no_executor_framework.py 127.0.0.1:5050 [--tasks 5] [--command 'echo hello']
"""

import argparse
import sys

import mesos_tw.interface
import mesos_tw.native
from mesos_tw.interface import mesos_pb2


class CommandScheduler(mesos_tw.interface.Scheduler):
    """
    Launches command tasks until TASKS have finished.
    """

    def __init__(self, command, total_tasks):
        self.command = command
        self.total_tasks = total_tasks
        self.launched = 0
        self.finished = 0
        self.problems = []

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
            tasks = []
            while self.launched < self.total_tasks and cpus >= 0.1 and mem >= 32:
                task = mesos_pb2.TaskInfo()
                task.task_id.value = str(self.launched)
                task.slave_id.value = offer.slave_id.value
                task.name = f"command {self.launched}"
                task.command.value = self.command
                for name, amount in (("cpus", 0.1), ("mem", 32)):
                    resource = task.resources.add()
                    resource.name = name
                    resource.type = mesos_pb2.Value.SCALAR
                    resource.scalar.value = amount
                tasks.append(task)
                self.launched += 1
                cpus -= 0.1
                mem -= 32
            driver.launchTasks(offer.id, tasks)

    def statusUpdate(self, driver, update):
        name = mesos_pb2.TaskState.Name(update.state)
        print(f"Task {update.task_id.value} is in state {name} {update.message}".rstrip())
        if update.state == mesos_pb2.TASK_FINISHED:
            self.finished += 1
            if self.finished == self.total_tasks:
                print(f"All {self.total_tasks} command tasks finished")
                driver.stop()
        elif update.state in (mesos_pb2.TASK_LOST, mesos_pb2.TASK_KILLED,
                              mesos_pb2.TASK_FAILED, mesos_pb2.TASK_ERROR):
            self.problems.append(f"task {update.task_id.value} ended {name}: {update.message}")
            driver.stop()

    def error(self, driver, message):
        self.problems.append(f"error: {message}")


def main():
    parser = argparse.ArgumentParser(description="Command tasks, no custom executor.")
    parser.add_argument("master", help="host:port of the master")
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--command", default="echo hello from $MESOS_EXECUTOR_ID")
    options = parser.parse_args()

    framework = mesos_pb2.FrameworkInfo()
    framework.user = ""
    framework.name = "No Executor Framework (Python)"
    scheduler = CommandScheduler(options.command, options.tasks)
    driver = mesos_tw.native.MesosSchedulerDriver(scheduler, framework, options.master)
    status = driver.run()
    for problem in scheduler.problems:
        print(f"PROBLEM: {problem}")
    return 0 if status == mesos_pb2.DRIVER_STOPPED and not scheduler.problems else 1


if __name__ == "__main__":
    sys.exit(main())
