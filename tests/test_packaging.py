"""
Tests of the packaging: the committed protobuf code matches the .proto
files, the twistd plugins are found, and the console scripts build the right
twistd command line.
"""

import glob
import os
import subprocess
import sys
import tempfile

from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins
from twisted.trial.unittest import SkipTest, SynchronousTestCase

import mesos_tw
from mesos_tw.scripts import twistd_argv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(mesos_tw.__file__)))
REGENERATE = "python -m grpc_tools.protoc -I. --python_out=. mesos_tw/protocols/*.proto"


class GeneratedCodeTests(SynchronousTestCase):
    """
    The committed *_pb2.py files are what protoc makes of the .proto files.
    """

    def test_not_stale(self):
        """
        Regenerating gives byte-identical files.
        """
        try:
            import grpc_tools  # noqa: F401
        except ImportError:
            raise SkipTest("grpcio-tools is not installed (pip install -e '.[test]')")
        protos = sorted(glob.glob(os.path.join(ROOT, "mesos_tw", "protocols", "*.proto")))
        self.assertEqual(len(protos), 9)
        with tempfile.TemporaryDirectory() as out:
            subprocess.run(
                [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT}", f"--python_out={out}",
                 *protos], check=True)
            for proto in protos:
                name = os.path.basename(proto).replace(".proto", "_pb2.py")
                with open(os.path.join(out, "mesos_tw", "protocols", name), "rb") as fresh, \
                        open(os.path.join(ROOT, "mesos_tw", "protocols", name), "rb") as committed:
                    self.assertEqual(
                        fresh.read(), committed.read(),
                        f"{name} is stale: run `{REGENERATE}` from the repository root")


class PluginTests(SynchronousTestCase):
    """
    twistd finds the three plugins.
    """

    def test_plugins(self):
        """
        mesos-master, mesos-slave and mesos-local are twistd plugins.
        """
        names = {maker.tapname for maker in getPlugins(IServiceMaker)}
        self.assertTrue({"mesos-master", "mesos-slave", "mesos-local"} <= names, names)


class ScriptTests(SynchronousTestCase):
    """
    The console scripts.
    """

    def test_twistd_argv(self):
        """
        A console script runs its plugin in the foreground with the flags.
        """
        self.assertEqual(
            twistd_argv("mesos-master", ["--port=5050"]),
            ["twistd", "--nodaemon", "--pidfile=", "mesos-master", "--port=5050"])
