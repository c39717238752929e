"""
The executor programs that ship with mesos_tw: the command executor and the
default executor (task groups).
"""
