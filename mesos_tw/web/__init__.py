"""
HTTP for people and programs: JSON endpoints shared by master and slave.
"""
