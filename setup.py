"""
Packaging for mesos_tw.  Editable installs need the compat mode so that
Twisted's plugin scan sees twisted/plugins:

    pip install -e . --config-settings editable_mode=compat
"""

from setuptools import find_packages, setup

setup(
    name="mesos_tw",
    version="0.1.0",
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
    ],
    extras_require={"test": ["hypothesis", "grpcio-tools"]},
    entry_points={
        "console_scripts": [
            "mesos-master = mesos_tw.scripts:master_main",
            "mesos-slave = mesos_tw.scripts:slave_main",
            "mesos-local = mesos_tw.scripts:local_main",
            "mesos-batch = mesos_tw.batch.script:main",
        ]
    },
)
