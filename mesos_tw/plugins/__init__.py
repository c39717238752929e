"""
Plugins of mesos_tw (isolators).  Third-party packages add modules to this
package's path through Twisted's plugin path mechanism.
"""

from twisted.plugin import pluginPackagePaths

__path__.extend(pluginPackagePaths(__name__))
__all__ = []
