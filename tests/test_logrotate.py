"""
Tests for size-capped executor logs (C{--sandbox_log_max_size}).
"""

import os

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.constants import LOG_FILES_KEPT, LOG_ROTATION_INTERVAL
from mesos_tw.slave.logrotate import parse_bytes, rotate
from mesos_tw.slave.tap import Options
from mesos_tw.testing.recovery import SlaveRecoveryTestCase


class RotateTests(SynchronousTestCase):
    """
    L{rotate} and L{parse_bytes}.
    """

    def test_rotate(self):
        """
        The log is copied to C{.1}, the older copies shift, the oldest
        beyond C{kept} goes, and the log is emptied; a writer appending
        with O_APPEND goes on at its start.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "stdout")
        writer = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self.addCleanup(os.close, writer)
        for round_ in range(4):
            os.write(writer, f"round {round_}\n".encode())
            rotate(path, 3)
        os.write(writer, b"after\n")
        with open(path) as log:
            self.assertEqual(log.read(), "after\n")
        copies = {}
        for index in (1, 2, 3):
            with open(f"{path}.{index}") as copy:
                copies[index] = copy.read()
        self.assertEqual(copies, {1: "round 3\n", 2: "round 2\n", 3: "round 1\n"})
        self.assertFalse(os.path.exists(f"{path}.4"))

    def test_parse_bytes(self):
        """
        Mesos's sizes; anything else is refused, saying how to write one.
        """
        self.assertEqual([parse_bytes(t) for t in ("10MB", "512KB", "1GB", "100", "2 mb")],
                         [10 << 20, 512 << 10, 1 << 30, 100, 2 << 20])
        error = self.assertRaises(ValueError, parse_bytes, "lots")
        self.assertIn("try 10MB", str(error))

    def test_flag(self):
        """
        C{--sandbox_log_max_size} is parsed; a bad one is a one-line error.
        """
        options = Options()
        options.parseOptions(["--master=127.0.0.1:5050", "--sandbox_log_max_size=10MB"])
        self.assertEqual(options["sandbox_log_max_size"], 10 << 20)
        bad = Options()
        error = self.assertRaises(usage.UsageError, bad.parseOptions,
                                  ["--master=127.0.0.1:5050", "--sandbox_log_max_size=big"])
        self.assertIn("--sandbox_log_max_size", str(error))


class SandboxLogRotationTests(SlaveRecoveryTestCase):
    """
    A slave capping its executors' logs.
    """

    def test_chatty_executor_rotated(self):
        """
        A live executor's stdout past the cap is rotated at the next
        check; no more than LOG_FILES_KEPT copies are kept.
        """
        self.crash()
        self.slave = self.start_slave(sandbox_log_max_size=100)
        self.register()
        self.run_task()
        directory = self.slave.frameworks["F1"].executors["e1"].directory
        stdout = os.path.join(directory, "stdout")
        for round_ in range(LOG_FILES_KEPT + 2):
            with open(stdout, "a") as log:
                log.write(f"{round_}" * 150)
            self.clock.advance(LOG_ROTATION_INTERVAL)
            self.assertEqual(os.path.getsize(stdout), 0)
        with open(stdout + ".1") as newest:
            self.assertEqual(newest.read(), f"{LOG_FILES_KEPT + 1}" * 150)
        self.assertTrue(os.path.exists(f"{stdout}.{LOG_FILES_KEPT}"))
        self.assertFalse(os.path.exists(f"{stdout}.{LOG_FILES_KEPT + 1}"))

    def test_small_log_left_alone(self):
        """
        A log under the cap is not touched.
        """
        self.crash()
        self.slave = self.start_slave(sandbox_log_max_size=100)
        self.register()
        self.run_task()
        stdout = os.path.join(self.slave.frameworks["F1"].executors["e1"].directory, "stdout")
        with open(stdout, "a") as log:
            log.write("x" * 99)
        self.clock.advance(LOG_ROTATION_INTERVAL)
        self.assertEqual(os.path.getsize(stdout), 99)
        self.assertFalse(os.path.exists(stdout + ".1"))
