#!/usr/bin/env python3
"""
The executor of the balloon framework (Mesos's balloon_executor): its one
task is a balloon that grows its memory a step at a time until it reaches
its limit.  The task's data says how (JSON: C{step_mb}, C{limit_mb},
C{step_seconds}).  Under a memory limit smaller than the balloon's, the
isolator stops it first and the task fails; with no limit the balloon
reaches its size and the task finishes, saying so.
"""

import json
import sys
import threading
import time

import mesos_tw.interface
import mesos_tw.native
from mesos_tw.interface import mesos_pb2

#: Every page of a step is written, so that it is resident, not just mapped.
_FILL = b"\x01"


def balloon_settings(data):
    """
    C{(step_mb, limit_mb, step_seconds)} from a task's JSON data.

    @raise ValueError: saying what is wrong with it.
    """
    try:
        settings = json.loads(data.decode("utf-8"))
        step, limit, pause = (settings["step_mb"], settings["limit_mb"],
                              settings["step_seconds"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"the task's data is not the balloon's settings: {error!r}")
    if not (isinstance(step, int) and isinstance(limit, int) and step > 0 and limit > 0):
        raise ValueError(f"step_mb and limit_mb must be positive integers, not {step!r}, {limit!r}")
    if not (isinstance(pause, (int, float)) and pause >= 0):
        raise ValueError(f"step_seconds must be a number of seconds, not {pause!r}")
    return step, limit, float(pause)


class BalloonExecutor(mesos_tw.interface.Executor):
    """
    Runs one balloon per task, each in a thread of its own (the driver's
    callbacks must not block).
    """

    def launchTask(self, driver, task):
        """
        Report the task running and start its balloon; a task whose data
        is not the balloon's settings fails, saying why.
        """
        try:
            settings = balloon_settings(task.data)
        except ValueError as error:
            self._update(driver, task, mesos_pb2.TASK_FAILED, str(error))
            return
        self._update(driver, task, mesos_pb2.TASK_RUNNING, "Inflating the balloon")
        threading.Thread(target=self._inflate, args=(driver, task) + settings,
                         name=f"balloon {task.task_id.value}", daemon=True).start()

    def _inflate(self, driver, task, step_mb, limit_mb, step_seconds):
        balloon = []
        while len(balloon) * step_mb < limit_mb:
            size = min(step_mb, limit_mb - len(balloon) * step_mb)
            balloon.append(_FILL * (size << 20))
            print(f"Balloon at {sum(len(part) for part in balloon) >> 20} MB "
                  f"of {limit_mb} MB", flush=True)
            time.sleep(step_seconds)
        self._update(driver, task, mesos_pb2.TASK_FINISHED,
                     f"The balloon reached its full {limit_mb} MB: no memory limit stopped it")

    def _update(self, driver, task, state, message):
        status = mesos_pb2.TaskStatus()
        status.task_id.value = task.task_id.value
        status.state = state
        status.message = message
        driver.sendStatusUpdate(status)

    def shutdown(self, driver):
        """
        The slave asks us to stop: the process ends with the driver.
        """
        print("Shutting down", flush=True)


if __name__ == "__main__":
    print("Starting the balloon executor", flush=True)
    driver = mesos_tw.native.MesosExecutorDriver(BalloonExecutor())
    sys.exit(0 if driver.run() == mesos_pb2.DRIVER_STOPPED else 1)
