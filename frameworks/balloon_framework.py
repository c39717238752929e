#!/usr/bin/env python3
"""
Mesos's balloon framework: one task whose executor (balloon_executor.py)
grows its memory a step at a time until it crosses the task's memory.  On
a slave that enforces memory (C{--isolation=cgroups} or C{lxc}) the task
ends TASK_FAILED with the memory-limit message, which this prints; where
nothing enforces it the balloon reaches its full size and the task
finishes.

    python frameworks/balloon_framework.py 127.0.0.1:5050 [--task_mem 64] [--balloon_limit 256]

It exits 0 when a memory limit stopped the balloon, 1 otherwise.
"""

import argparse
import json
import os
import sys

import mesos_tw.interface
import mesos_tw.native
from mesos_tw.interface import mesos_pb2

EXECUTOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "balloon_executor.py")
#: What the executor itself asks for, besides its task (Mesos's example
#: gives it 32 MB too).
EXECUTOR_CPUS = 0.1
EXECUTOR_MEM = 32
TASK_CPUS = 0.5
TERMINAL = (mesos_pb2.TASK_FINISHED, mesos_pb2.TASK_FAILED, mesos_pb2.TASK_KILLED,
            mesos_pb2.TASK_LOST, mesos_pb2.TASK_ERROR)


def _scalar(name, amount):
    resource = mesos_pb2.Resource(name=name, type=mesos_pb2.Value.SCALAR)
    resource.scalar.value = amount
    return resource


class BalloonScheduler(mesos_tw.interface.Scheduler):
    """
    Launches the balloon task on the first offer that fits it, and stops
    once it has ended.

    @ivar final: the task's last C{TaskStatus}, once it has ended.
    """

    def __init__(self, executor, task_mem, settings):
        self.executor = executor
        self.task_mem = task_mem
        self.settings = settings
        self.launched = False
        self.final = None

    def registered(self, driver, frameworkId, masterInfo):
        """
        Say which framework id the master gave us.
        """
        print(f"Registered as framework {frameworkId.value} with master {masterInfo.pid}",
              flush=True)

    def resourceOffers(self, driver, offers):
        """
        Launch the balloon on the first offer with room for it and its
        executor; decline every other offer.
        """
        for offer in offers:
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
            if (self.launched or cpus < TASK_CPUS + EXECUTOR_CPUS
                    or mem < self.task_mem + EXECUTOR_MEM):
                driver.declineOffer(offer.id)
                continue
            self.launched = True
            task = mesos_pb2.TaskInfo(name="balloon", data=json.dumps(self.settings).encode())
            task.task_id.value = "balloon"
            task.slave_id.value = offer.slave_id.value
            task.executor.MergeFrom(self.executor)
            task.resources.extend([_scalar("cpus", TASK_CPUS), _scalar("mem", self.task_mem)])
            print(f"Launching the balloon task with {self.task_mem} MB on slave "
                  f"{offer.slave_id.value}; the balloon grows {self.settings['step_mb']} MB "
                  f"at a time to {self.settings['limit_mb']} MB", flush=True)
            driver.launchTasks(offer.id, [task])

    def statusUpdate(self, driver, update):
        """
        Print the task's state, reason and message; stop once it has ended.
        """
        name = mesos_pb2.TaskState.Name(update.state)
        reason = (f" ({mesos_pb2.TaskStatus.Reason.Name(update.reason)})"
                  if update.HasField("reason") else "")
        print(f"Task {update.task_id.value} is in state {name}{reason}: {update.message}",
              flush=True)
        if update.state in TERMINAL:
            self.final = update
            driver.stop()

    def error(self, driver, message):
        """
        Print the error the master sent (the driver then aborts).
        """
        print(f"Error: {message}", flush=True)

    def stopped_by_memory_limit(self):
        """
        Whether the task failed because it reached its memory limit.
        """
        return (self.final is not None and self.final.state == mesos_pb2.TASK_FAILED
                and self.final.reason == mesos_pb2.TaskStatus.REASON_CONTAINER_LIMITATION_MEMORY)


def _positive_mb(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of MB: {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value}")
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def parse_arguments(argv):
    """
    The command line, checked: the balloon must be able to outgrow its task.
    """
    parser = argparse.ArgumentParser(description="Mesos's balloon framework: a task whose "
                                     "memory grows until a memory limit stops it.")
    parser.add_argument("master", help="host:port of the master")
    parser.add_argument("--task_mem", type=_positive_mb, default=64,
                        help="the task's memory, MB (default 64)")
    parser.add_argument("--balloon_limit", type=_positive_mb, default=256,
                        help="how far the balloon grows, MB (default 256)")
    parser.add_argument("--balloon_step", type=_positive_mb, default=32,
                        help="how much it grows at a time, MB (default 32)")
    parser.add_argument("--step_seconds", type=_seconds, default=1.0,
                        help="seconds between steps (default 1)")
    options = parser.parse_args(argv)
    if options.balloon_limit <= options.task_mem + EXECUTOR_MEM:
        parser.error(f"--balloon_limit ({options.balloon_limit} MB) must exceed the task's and "
                     f"its executor's memory ({options.task_mem} + {EXECUTOR_MEM} MB), "
                     "or the balloon never crosses its limit")
    return options


def main(argv=None):
    """
    Run the balloon to its end: 0 if a memory limit stopped it, else 1.
    """
    options = parse_arguments(sys.argv[1:] if argv is None else argv)
    executor = mesos_pb2.ExecutorInfo(name="Balloon Executor (Python)", source="balloon_test")
    executor.executor_id.value = "balloon"
    executor.command.value = f"{sys.executable} {EXECUTOR}"
    executor.resources.extend([_scalar("cpus", EXECUTOR_CPUS), _scalar("mem", EXECUTOR_MEM)])

    framework = mesos_pb2.FrameworkInfo()
    framework.user = ""  # Have Mesos fill in the current user.
    framework.name = "Balloon Framework (Python)"

    scheduler = BalloonScheduler(executor, options.task_mem, {
        "step_mb": options.balloon_step, "limit_mb": options.balloon_limit,
        "step_seconds": options.step_seconds})
    driver = mesos_tw.native.MesosSchedulerDriver(scheduler, framework, options.master)
    driver.run()
    if scheduler.stopped_by_memory_limit():
        print(f"The balloon was stopped by its memory limit: {scheduler.final.message}")
        return 0
    if scheduler.final is None:
        print("PROBLEM: the balloon task never ended")
    else:
        print("PROBLEM: no memory limit stopped the balloon (is the slave running "
              "--isolation=cgroups or lxc?)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
