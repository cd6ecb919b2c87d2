"""The application wing: settings, the whole job, scenario files, batch runs, outputs, CLI.

Everything here is built on the algorithms of :mod:`optimizer` and :mod:`networks`; nothing
in those imports this package (``ARCHITECTURE.md``; a test checks the arrows).
"""
