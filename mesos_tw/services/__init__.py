"""
mesos-services: a framework that keeps declared services running, with
Marathon's C{/v2} REST API (the subset in C{docs/services.md}).

  - L{apps}: app definitions in Marathon's JSON, and their validation;
  - L{constraints}: Marathon's placement constraints;
  - L{placement}: fitting an instance on an offer (resources, ports,
    constraints) and the C{TaskInfo} it becomes;
  - L{deployments}: rolling out a new version within its upgrade strategy;
  - L{scheduler}: the Mesos scheduler that launches, restarts (with
    back-off), scales and kills instances;
  - L{store}: where the state lives (memory, or ZooKeeper for HA);
  - L{api}: the REST API and the services page;
  - L{tap}: C{twistd mesos-services} and the C{mesos-services} command, with
    leader election.
"""
