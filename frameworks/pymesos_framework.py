#!/usr/bin/env python3
"""
A framework written with pymesos (a third-party client of Mesos's v1 HTTP
scheduler API), in the style of pymesos's own README example: it runs TASKS
shell-command tasks, acknowledges their updates (pymesos does it for it),
asks for an implicit reconciliation while they run, and stops when every
task has finished.  With ``--executor`` its tasks run on a pymesos executor
instead (frameworks/pymesos_executor.py, over the v1 executor API): each
running task's executor sends a framework message, and the task finishes
when the framework answers it.  With ``--group`` the tasks are launched
together as one task group (a LAUNCH_GROUP operation): on Mesos's DEFAULT
executor (the slave's own), or with ``--executor`` on the pymesos executor.
``--executor-env NAME=VALUE`` adds to the pymesos executor's environment,
over what the agent gives it (tests point its ``MESOS_AGENT_ENDPOINT`` at a
proxy so).  ``--principal`` and ``--secret`` authenticate it (HTTP Basic,
pymesos's own) and set its ``FrameworkInfo.principal``.  Nothing in it is
specific to mesos_tw.

    python frameworks/pymesos_framework.py 127.0.0.1:5050 [--tasks 3] [--executor] [--group]
        [--executor-env NAME=VALUE ...] [--principal P --secret S]
    python frameworks/pymesos_framework.py zk://127.0.0.1:2181/mesos

Needs pymesos (``bash scripts/install-pymesos``).
"""

import argparse
import getpass
import os
import shlex
import socket
import sys
import threading
import uuid

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler, decode_data, encode_data

TASK_CPUS = 0.1
TASK_MEM = 32
EXECUTOR_CPUS = 0.1
EXECUTOR_MEM = 32
EXECUTOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pymesos_executor.py")


def resources(cpus, mem):
    """
    v1 JSON resources: C{cpus} and C{mem}.
    """
    return [dict(name="cpus", type="SCALAR", scalar={"value": cpus}),
            dict(name="mem", type="SCALAR", scalar={"value": mem})]


class CommandScheduler(Scheduler):
    """
    Launches the command tasks (or, with C{executor}, tasks of that
    C{ExecutorInfo}) on whatever offers fit.
    """

    def __init__(self, total, done, executor=None, group=False):
        self.total = total
        self.done = done
        self.executor = executor
        self.group = group
        self.executor_agents = set()
        self.messages = set()
        self.launched = 0
        self.finished = set()
        self.reconciled = False
        self.reconciliation_answers = 0
        self.problems = []

    def registered(self, driver, framework_id, master_info):
        print(f"Registered as framework {framework_id.value}", flush=True)

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
            tasks = []
            if self.executor is not None and offer.agent_id.value not in self.executor_agents:
                # The executor's own resources, the first time it runs there.
                cpus -= EXECUTOR_CPUS
                mem -= EXECUTOR_MEM
            while self.launched < self.total and cpus >= TASK_CPUS and mem >= TASK_MEM:
                task = Dict()
                task.task_id.value = f"pymesos-{self.launched}-{uuid.uuid4().hex[:6]}"
                task.agent_id.value = offer.agent_id.value
                task.name = f"task {self.launched}"
                if self.group:
                    # A group's tasks name no executor: the group's is theirs.
                    if self.executor.type == "DEFAULT":
                        task.command.value = "sleep 1; echo hello from a task group"
                elif self.executor is not None:
                    task.executor = self.executor
                else:
                    task.command.value = "sleep 1; echo hello from pymesos"
                task.resources = resources(TASK_CPUS, TASK_MEM)
                tasks.append(task)
                self.launched += 1
                cpus -= TASK_CPUS
                mem -= TASK_MEM
            if not tasks:
                driver.declineOffer(offer.id, {"refuse_seconds": 1})
                continue
            if self.executor is not None:
                self.executor_agents.add(offer.agent_id.value)
            if self.group:
                driver.acceptOffers([offer.id], [dict(
                    type="LAUNCH_GROUP",
                    launch_group=dict(executor=self.executor, task_group=dict(tasks=tasks)))])
            else:
                driver.launchTasks(offer.id, tasks)

    def statusUpdate(self, driver, update):
        print(f"Task {update.task_id.value} is {update.state} "
              f"({update.get('reason', '')})", flush=True)
        if update.get("reason") == "REASON_RECONCILIATION":
            self.reconciliation_answers += 1
        elif update.state == "TASK_RUNNING" and not self.reconciled:
            self.reconciled = True
            driver.reconcileTasks([])
        elif update.state == "TASK_FINISHED":
            self.finished.add(update.task_id.value)
        elif update.state in ("TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_KILLED"):
            self.problems.append(f"{update.task_id.value}: {update.state} {update.message}")
        self._check_done()

    def frameworkMessage(self, driver, executor_id, agent_id, message):
        words = decode_data(message).decode().split()
        print(f"Executor {executor_id.value} says {' '.join(words)!r}", flush=True)
        if len(words) == 2 and words[0] == "running":
            self.messages.add(words[1])
            driver.sendFrameworkMessage(executor_id, agent_id,
                                        encode_data(f"finish {words[1]}".encode()))
        else:
            self.problems.append(f"unexpected framework message {message!r}")
        self._check_done()

    def _check_done(self):
        messaging = self.executor is not None and self.executor.type != "DEFAULT"
        messages = len(self.messages) == self.total if messaging else True
        if len(self.finished) == self.total and self.reconciliation_answers and messages:
            print(f"All {self.total} tasks finished; reconciliation answered "
                  f"{self.reconciliation_answers} time(s)", flush=True)
            if messaging:
                print(f"Framework messages from the executor for all {self.total} tasks",
                      flush=True)
            self.done.set()
        elif self.problems:
            self.done.set()

    def error(self, driver, message):
        self.problems.append(f"error: {message}")
        self.done.set()


def main():
    parser = argparse.ArgumentParser(description="A pymesos framework running command tasks.")
    parser.add_argument("master", help="host:port or zk://host:port/path")
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--executor", action="store_true",
                        help="run the tasks on frameworks/pymesos_executor.py")
    parser.add_argument("--group", action="store_true",
                        help="launch the tasks as one task group (LAUNCH_GROUP)")
    parser.add_argument("--executor-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the executor (over the agent's; "
                             "repeat for more)")
    parser.add_argument("--principal", help="authenticate as this principal (HTTP Basic)")
    parser.add_argument("--secret", help="the principal's secret")
    options = parser.parse_args()

    framework = Dict()
    framework.user = getpass.getuser()
    framework.name = "pymesos command framework"
    framework.hostname = socket.gethostname()
    if options.principal:
        framework.principal = options.principal

    done = threading.Event()
    executor = None
    if options.executor:
        executor = Dict()
        executor.executor_id.value = f"pymesos-executor-{uuid.uuid4().hex[:6]}"
        executor.name = "pymesos executor"
        executor.command.value = f"{shlex.quote(sys.executable)} {shlex.quote(EXECUTOR)}"
        executor.resources = resources(EXECUTOR_CPUS, EXECUTOR_MEM)
        if options.group:
            executor.type = "CUSTOM"
        if options.executor_env:
            executor.command.environment.variables = [
                dict(name=name, value=value)
                for name, _, value in (v.partition("=") for v in options.executor_env)]
    elif options.group:
        executor = Dict()
        executor.type = "DEFAULT"
        executor.executor_id.value = f"default-executor-{uuid.uuid4().hex[:6]}"
        executor.resources = resources(EXECUTOR_CPUS, EXECUTOR_MEM)
    scheduler = CommandScheduler(options.tasks, done, executor, options.group)
    driver = MesosSchedulerDriver(scheduler, framework, options.master, use_addict=True,
                                  principal=options.principal, secret=options.secret)
    driver.start()
    finished = done.wait(options.timeout)
    driver.stop()
    driver.join()
    if not finished:
        scheduler.problems.append(f"not done after {options.timeout} s")
    for problem in scheduler.problems:
        print(f"PROBLEM: {problem}", flush=True)
    return 0 if finished and not scheduler.problems else 1


if __name__ == "__main__":
    sys.exit(main())
