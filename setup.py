"""
Packaging for mesos_tw.  Editable installs need the compat mode so that
Twisted's plugin scan sees twisted/plugins:

    pip install -e . --config-settings editable_mode=compat
"""

import re

from setuptools import find_packages, setup


def _version():
    """
    The version, read from C{mesos_tw/__init__.py} (its one home), without
    importing the package before its dependencies are installed.
    """
    with open("mesos_tw/__init__.py", encoding="utf-8") as init:
        return re.search(r'^__version__ = "([^"]+)"', init.read(), re.M).group(1)


setup(
    name="mesos_tw",
    version=_version(),
    description="Apache Mesos, the cluster manager, rebuilt in Python on Twisted",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["mesos_tw", "mesos_tw.*"]) + ["twisted.plugins"],
    package_data={
        "mesos_tw.protocols": ["*.proto"],
        "mesos_tw.web": ["templates/*.xml", "static/*"],
    },
    install_requires=[
        "twisted>=24.7",
        "zope.interface",
        "protobuf>=7.35.1",
        "klein",
        "ptyprocess",
        "kazoo",
        "treq",
        "click",
        "tabulate",
    ],
    extras_require={"test": ["hypothesis", "grpcio-tools", "prometheus-client"]},
    entry_points={
        "console_scripts": [
            "mesos-master = mesos_tw.scripts:master_main",
            "mesos-slave = mesos_tw.scripts:slave_main",
            "mesos-local = mesos_tw.scripts:local_main",
            "mesos-services = mesos_tw.scripts:services_main",
            "mesos = mesos_tw.cli.main:main",
            "mesos-batch = mesos_tw.batch.script:main",
            "mesos-mpirun = mesos_tw.mpi.script:main",
        ]
    },
)
