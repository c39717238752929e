"""
C{python -m mesos_tw.cli}: the C{mesos} command line.
"""

from mesos_tw.cli.main import main

main()
