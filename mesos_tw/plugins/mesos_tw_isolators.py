"""
The isolators that ship with mesos_tw, as plugins exactly like a third
party's: C{--isolation=process} (the default), C{cgroups} and C{lxc}.
"""

import os

from zope.interface import implementer

from mesos_tw.isolation.interface import IIsolatorFactory, IsolatorUnavailable


@implementer(IIsolatorFactory)
class ProcessIsolatorFactory:
    """
    C{--isolation=process}: plain processes, no limits.
    """

    name = "process"
    description = "Each executor is a process in its own session; no resource limits."

    def check(self, options):
        """
        Processes work anywhere.
        """

    def make_isolator(self, reactor, options):
        """
        A L{mesos_tw.isolation.process.ProcessIsolator}.
        """
        from mesos_tw.isolation.launcher import Launcher
        from mesos_tw.isolation.process import ProcessIsolator

        return ProcessIsolator(reactor, work_dir=options.get("work_dir"),
                               launcher=Launcher(reactor))


process = ProcessIsolatorFactory()


@implementer(IIsolatorFactory)
class CgroupsIsolatorFactory:
    """
    C{--isolation=cgroups}: a cgroup per executor run, with cpu and memory
    limits (C{--cgroups_root}, C{--cgroups_enable_cfs}).
    """

    name = "cgroups"
    description = "Each executor run in a cgroup of its own, with cpu shares and a memory limit."

    def check(self, options):
        """
        Root, and the cpu, cpuacct, memory and freezer hierarchies mounted
        and writable; a C{--cgroups_root} that stays below our cgroup.
        """
        from mesos_tw.isolation.cgroups import check_cgroups

        root = options.get("cgroups_root") or "mesos"
        if ".." in root.split("/"):
            raise IsolatorUnavailable(f"--cgroups_root must not leave the slave's cgroup: {root!r}")
        check_cgroups()

    def make_isolator(self, reactor, options):
        """
        A L{mesos_tw.isolation.cgroups.CgroupsIsolator}.
        """
        from mesos_tw.isolation.cgroups import CgroupsIsolator
        from mesos_tw.isolation.launcher import Launcher

        return CgroupsIsolator(reactor, root=options.get("cgroups_root") or "mesos",
                               enable_cfs=bool(options.get("cgroups_enable_cfs")),
                               launcher=Launcher(reactor))


cgroups = CgroupsIsolatorFactory()


@implementer(IIsolatorFactory)
class LXCIsolatorFactory:
    """
    C{--isolation=lxc}: each executor in a Linux container run by LXC's
    tools, with cpu and memory limits (C{--cgroups_root} places its cgroups;
    LXC's own files go in C{<work_dir>/lxc}).
    """

    name = "lxc"
    description = "Each executor in an LXC container (own pid, mount, uts, ipc and network namespaces)."

    def check(self, options):
        """
        Root, LXC's tools, and the cpu, cpuacct and memory hierarchies;
        a known C{--lxc_network}.
        """
        from mesos_tw.isolation.lxc import NETWORKS, check_lxc

        network = options.get("lxc_network") or "host"
        if network not in NETWORKS:
            raise IsolatorUnavailable(
                f"--lxc_network must be one of {', '.join(NETWORKS)}, not {network!r}")
        check_lxc()

    def make_isolator(self, reactor, options):
        """
        A L{mesos_tw.isolation.lxc.LXCIsolator}.
        """
        from mesos_tw.isolation.lxc import LXCIsolator

        return LXCIsolator(reactor, os.path.join(options["work_dir"], "lxc"),
                           root=options.get("cgroups_root") or "mesos",
                           network=options.get("lxc_network") or "host")


lxc = LXCIsolatorFactory()
