#!/usr/bin/env python3
"""
An executor written with pymesos (a third-party client of Mesos's v1 HTTP
executor API), in the style of pymesos's own README example: for each task
it reports TASK_RUNNING, tells the scheduler with a framework message, and
reports TASK_FINISHED when the scheduler answers ``finish <task id>``.  The
tasks of a task group (LAUNCH_GROUP) run the same way.
Nothing in it is specific to mesos_tw: it finds its slave in the
environment Mesos gives executors (``MESOS_AGENT_ENDPOINT`` and the rest).

frameworks/pymesos_framework.py --executor launches it.  Needs pymesos
(``bash scripts/install-pymesos``).
"""

import sys
import time
from threading import Thread

from addict import Dict
from pymesos import Executor, MesosExecutorDriver, decode_data, encode_data


class MessagingExecutor(Executor):
    """
    Runs each task until its scheduler says to finish it.
    """

    def launchTask(self, driver, task):
        def run_task(task):
            update = Dict()
            update.task_id.value = task.task_id.value
            update.state = "TASK_RUNNING"
            update.timestamp = time.time()
            driver.sendStatusUpdate(update)
            driver.sendFrameworkMessage(encode_data(f"running {task.task_id.value}".encode()))

        thread = Thread(target=run_task, args=(task,))
        thread.start()

    def launchTaskGroup(self, driver, tasks):
        for task in tasks:
            self.launchTask(driver, task)

    def frameworkMessage(self, driver, message):
        words = decode_data(message).decode().split()
        if len(words) == 2 and words[0] == "finish":
            update = Dict()
            update.task_id.value = words[1]
            update.state = "TASK_FINISHED"
            update.timestamp = time.time()
            driver.sendStatusUpdate(update)
        else:
            print(f"Unexpected framework message {message!r}", file=sys.stderr, flush=True)

    def shutdown(self, driver):
        print("Shutting down", file=sys.stderr, flush=True)


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO)
    driver = MesosExecutorDriver(MessagingExecutor(), use_addict=True)
    driver.run()
