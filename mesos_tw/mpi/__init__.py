"""
MPI jobs on Mesos (``mesos-mpirun``): the ranks are gang-scheduled, and
each host's MPICH hydra proxy runs as a Mesos task.

- L{mesos_tw.mpi.gang}: holding offers until every rank fits.
- L{mesos_tw.mpi.hydra}: mpiexec with hydra's manual launcher.
- L{mesos_tw.mpi.scheduler}: the framework's scheduler.
- L{mesos_tw.mpi.script}: the ``mesos-mpirun`` command.
"""
