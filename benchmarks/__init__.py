"""roadopt's benchmarks: a registry of cases and runners that write JSON and Markdown reports.

Run ``python -m benchmarks assignment`` (see ``benchmarks/README.md``); from Python::

    from benchmarks import assignment
    result = assignment.run(["Chicago-Sketch"], methods=["bush"], out="bench-out")
"""

from .registry import REGISTRY, Case, cases, register

__all__ = ["REGISTRY", "Case", "cases", "register"]
