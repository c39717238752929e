"""
Helpers for the functional tests on real cgroups: a fresh cgroup root per
test (skipping, with the reason, where cgroups cannot be used), and a run of
mesos-local whose tasks a scheduler launches.
"""

import itertools
import os
import sys

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SkipTest

from mesos_tw.interface import mesos_pb2
from mesos_tw.isolation._cgroupfs import mounted_hierarchies, own_cgroups
from mesos_tw.isolation._hierarchy import detect_hierarchy
from mesos_tw.isolation.cgroups import SUBSYSTEMS, CgroupsIsolator, check_cgroups
from mesos_tw.isolation.interface import IsolatorUnavailable
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.testing.local_cluster import start_mesos_local
from mesos_tw.testing.scheduler import TaskScheduler

__all__ = ["ALLOCATE_200_MB", "cgroups_root", "remove_cgroup_root", "restarted_isolator",
           "run_on_local"]

#: Allocates and touches 200 MB, a megabyte at a time.
ALLOCATE_200_MB = (f"{sys.executable} -c \"chunks = [b'x' * (1 << 20) for _ in range(200)]\"")


def cgroups_root(test):
    """
    A cgroups root of its own for C{test}, removed after it (every
    container cgroup under it must be gone by then); skips the test, with
    the reason, where cgroups cannot be used.
    """
    try:
        check_cgroups()
    except IsolatorUnavailable as error:
        raise SkipTest(str(error))
    if detect_hierarchy().version != 1:
        raise SkipTest("the cgroups isolator uses the v2 unified hierarchy here, not v1")
    root = f"mesos_tw_test_{os.getpid()}_{next(_roots)}"
    hierarchies, own = mounted_hierarchies(), own_cgroups()
    directories = {os.path.join(hierarchies[s], own.get(s, "/").lstrip("/"), root)
                   for s in SUBSYSTEMS}

    for directory in directories:
        test.addCleanup(remove_cgroup_root, test, directory)
    return root


def remove_cgroup_root(test, directory):
    """
    Remove a test's cgroup root C{directory}, failing C{test} if a cgroup
    was left in it.
    """
    if os.path.isdir(directory):
        left = [entry for entry in os.listdir(directory)
                if os.path.isdir(os.path.join(directory, entry))]
        for entry in left:
            os.rmdir(os.path.join(directory, entry))
        os.rmdir(directory)
        test.assertEqual(left, [], f"cgroups left behind in {directory}")


@inlineCallbacks
def run_on_local(test, flags, make_tasks, count):
    """
    Run a framework launching C{make_tasks(slave_id)} on a one-slave
    mesos-local started with C{flags}; fires with its L{TaskScheduler} once
    every task has ended.
    """
    _, port = yield start_mesos_local(
        test, reactor, *flags, resources="cpus:2;mem:1024;disk:100;ports:[31000-31010]")
    scheduler = TaskScheduler(make_tasks, count)
    driver = MesosSchedulerDriver(
        scheduler, mesos_pb2.FrameworkInfo(user="", name="isolation"),
        f"127.0.0.1:{port}", reactor=reactor)
    driver.start()
    test.addCleanup(driver.stop)
    yield scheduler.done
    return scheduler




_roots = itertools.count()


def restarted_isolator(test, isolator):
    """
    A new cgroups isolator over the same root and hierarchy as
    C{isolator}, as a restarted slave makes (for the shared suite's
    recovery test).
    """
    return CgroupsIsolator(reactor, root=isolator.root, hierarchy=isolator.hierarchy)
