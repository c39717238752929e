"""
A third party's isolator, installed as a plugin from a package of its own,
runs tasks with no change to mesos_tw.
"""

import os
import sys
import textwrap

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.plugin import pluginPackagePaths
from twisted.trial.unittest import TestCase

from mesos_tw import plugins
from mesos_tw.interface import mesos_pb2
from mesos_tw.isolation.factories import isolator_factories
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.testing.local_cluster import start_mesos_local
from mesos_tw.testing.scheduler import TaskScheduler, command_task

#: The plugin module a third-party package would install under its own
#: C{mesos_tw/plugins/} directory (which has no C{__init__.py}).
PLUGIN_SOURCE = '''
"""
A third party's isolator: the process isolator, marking what it runs.
"""

from zope.interface import implementer

from mesos_tw.isolation.interface import IIsolatorFactory
from mesos_tw.isolation.process import ProcessIsolator


class MarkingIsolator(ProcessIsolator):
    """
    Runs executors as the process isolator does, with ISOLATED_BY set.
    """

    def launch(self, framework_id, executor_id, environment):
        return super().launch(
            framework_id, executor_id, dict(environment, ISOLATED_BY="{name}"))


@implementer(IIsolatorFactory)
class MarkingIsolatorFactory:
    name = "{name}"
    description = "A throw-away isolator from a test."

    def check(self, options):
        pass

    def make_isolator(self, reactor, options):
        return MarkingIsolator(reactor)


factory = MarkingIsolatorFactory()
'''


class ThirdPartyPluginTests(TestCase):
    """
    An isolator plugin from a package on the plugin path.
    """

    timeout = 120

    def install_plugin(self):
        """
        Write a plugin package to a temporary directory and put it on the
        path, as installing it would; returns the isolator's name.
        """
        name = f"thirdparty{os.getpid()}"
        root = os.path.abspath(self.mktemp())
        package = os.path.join(root, "mesos_tw", "plugins")
        os.makedirs(package)
        with open(os.path.join(package, f"{name}_isolator.py"), "w") as module:
            module.write(textwrap.dedent(PLUGIN_SOURCE).replace("{name}", name))
        self.patch(sys, "path", [root] + sys.path)
        self.patch(plugins, "__path__", plugins.__path__ + pluginPackagePaths(plugins.__name__))
        self.addCleanup(sys.modules.pop, f"mesos_tw.plugins.{name}_isolator", None)
        return name

    def test_found_by_name(self):
        """
        The installed plugin is among the isolators, by its name.
        """
        name = self.install_plugin()
        self.assertIn(name, isolator_factories())
        self.assertIn("process", isolator_factories())

    @inlineCallbacks
    def test_runs_a_task(self):
        """
        mesos-local with C{--isolation=<the plugin's name>} runs a command
        task through the plugin's isolator.
        """
        name = self.install_plugin()
        work_dir = os.path.abspath(self.mktemp())
        _, port = yield start_mesos_local(
            self, reactor, f"--isolation={name}",
            resources="cpus:1;mem:256;disk:100;ports:[31000-31010]", work_dir=work_dir)
        scheduler = TaskScheduler(
            lambda slave: [command_task("marked", slave, "echo isolated by $ISOLATED_BY")], 1)
        driver = MesosSchedulerDriver(
            scheduler, mesos_pb2.FrameworkInfo(user="", name="plugin"),
            f"127.0.0.1:{port}", reactor=reactor)
        driver.start()
        self.addCleanup(driver.stop)
        yield scheduler.done
        self.assertEqual(scheduler.finals["marked"].state, mesos_pb2.TASK_FINISHED)
        outputs = []
        for directory, _, files in os.walk(work_dir):
            if "stdout" in files:
                with open(os.path.join(directory, "stdout")) as stdout:
                    outputs.append(stdout.read())
        self.assertIn(f"isolated by {name}\n", outputs)
