"""
Executors that ship with mesos_tw: the built-in command executor.
"""
