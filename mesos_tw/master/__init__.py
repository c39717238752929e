"""
The Mesos master: frameworks, slaves, tasks and offers (soft state only), the
allocator that decides who is offered what, and the HTTP endpoints.
"""
