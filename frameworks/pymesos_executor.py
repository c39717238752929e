#!/usr/bin/env python3
"""
An executor written with pymesos (a third-party client of Mesos's v1 HTTP
executor API), in the style of pymesos's own README example: for each task
it reports TASK_RUNNING, tells the scheduler with a framework message, and
reports TASK_FINISHED when the scheduler answers ``finish <task id>``.  The
tasks of a task group (LAUNCH_GROUP) run the same way.
Nothing in it is specific to mesos_tw: it finds its slave in the
environment Mesos gives executors (``MESOS_AGENT_ENDPOINT`` and the rest).

It survives its stream to the agent breaking.  pymesos then subscribes
again by itself, listing the tasks it was sent that no acknowledged update
covers; this executor also keeps each status update until the agent
acknowledges it (pymesos lists those too, but never records them itself),
sends again what could not be sent while the stream was down, and, since
framework messages are best effort, tells the scheduler again about each
task still running, so that a ``finish`` lost in the cut comes again.

frameworks/pymesos_framework.py --executor launches it.  Needs pymesos
(``bash scripts/install-pymesos``).
"""

import logging
import sys
import threading
import time
import uuid

from addict import Dict
from pymesos import Executor, MesosExecutorDriver, decode_data, encode_data

log = logging.getLogger("pymesos_executor")


class ReliableExecutorDriver(MesosExecutorDriver):
    """
    pymesos's executor driver, keeping each status update until the agent
    acknowledges it: pymesos sends its C{updates} as the unacknowledged
    updates of a new SUBSCRIBE and drops each on its ACKNOWLEDGED event, but
    never puts them there.  A call that fails while the stream is down is
    logged, not raised: what matters is sent again once subscribed.
    """

    def sendStatusUpdate(self, status):
        status.setdefault("uuid", encode_data(uuid.uuid4().bytes))
        self.updates[uuid.UUID(bytes=decode_data(status["uuid"]))] = {"status": status}
        self._try(MesosExecutorDriver.sendStatusUpdate, status)

    def sendFrameworkMessage(self, data):
        self._try(MesosExecutorDriver.sendFrameworkMessage, data)

    def resend_updates(self):
        """
        Send again every update the agent has not acknowledged (it knows
        the ones it has by their uuids).
        """
        for update in list(self.updates.values()):
            self._try(MesosExecutorDriver.sendStatusUpdate, update["status"])

    def _try(self, call, argument):
        try:
            call(self, argument)
        except Exception as error:  # pymesos raises plain Exceptions of several kinds
            log.warning("Could not reach the agent (%s); will retry once subscribed again",
                        error)


def send_state(driver, task_id, state):
    """
    Tell the agent task C{task_id} is in C{state} (a v1 state name).
    """
    update = Dict()
    update.task_id.value = task_id
    update.state = state
    update.timestamp = time.time()
    driver.sendStatusUpdate(update)


class MessagingExecutor(Executor):
    """
    Runs each task until its scheduler says to finish it.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.running = set()
        self.finished = set()

    def launchTask(self, driver, task):
        def run_task(task):
            task_id = task.task_id.value
            with self.lock:
                self.running.add(task_id)
            send_state(driver, task_id, "TASK_RUNNING")
            driver.sendFrameworkMessage(encode_data(f"running {task_id}".encode()))

        thread = threading.Thread(target=run_task, args=(task,))
        thread.start()

    def launchTaskGroup(self, driver, tasks):
        for task in tasks:
            self.launchTask(driver, task)

    def frameworkMessage(self, driver, message):
        words = decode_data(message).decode().split()
        if len(words) == 2 and words[0] == "finish":
            with self.lock:
                if words[1] in self.finished:
                    return
                self.finished.add(words[1])
                self.running.discard(words[1])
            send_state(driver, words[1], "TASK_FINISHED")
        else:
            print(f"Unexpected framework message {message!r}", file=sys.stderr, flush=True)

    def disconnected(self, driver):
        print("Disconnected from the agent; subscribing again", file=sys.stderr, flush=True)

    def reregistered(self, driver, agent_info):
        print("Subscribed again", file=sys.stderr, flush=True)
        driver.resend_updates()
        with self.lock:
            running = sorted(self.running)
        for task_id in running:
            driver.sendFrameworkMessage(encode_data(f"running {task_id}".encode()))

    def shutdown(self, driver):
        print("Shutting down", file=sys.stderr, flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    driver = ReliableExecutorDriver(MessagingExecutor(), use_addict=True)
    driver.run()
