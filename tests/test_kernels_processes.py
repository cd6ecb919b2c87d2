"""The kernel package as fresh processes see it: with the JIT off, and through its cache.

With ``NUMBA_DISABLE_JIT=1`` numba's decorators hand back the Python functions, ``prange``
is ``range`` and the thread settings still answer, so the kernels run unchanged as plain
Python; the ``nojit`` kernel tests must pass that way (which keeps the kernels debuggable,
and measurable by coverage tools, line by line).

numba caches each kernel against its own source file only; the package empties the cache
when any of its modules changes (``optimizer._kernels._flush_stale_cache``), so that a
kernel never runs a stale copy of a callee from another module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_NOJIT = textwrap.dedent(
    """
    import sys

    import pytest

    from optimizer import _kernels as K

    assert not hasattr(K.link_costs, "py_func"), "the JIT is on"
    sys.exit(pytest.main(["-q", "-m", "nojit", "-p", "no:cacheprovider", "tests/test_kernels.py"]))
    """
)


def _python(code: str, *, cwd: Path, env: dict) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


def test_kernel_tests_pass_with_the_jit_disabled():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    out = _python(_NOJIT, cwd=REPO, env=env)
    passed = re.search(r"(\d+) passed", out)
    assert passed and int(passed.group(1)) >= 10, out[-2000:]


# bush_init (bush.py) loads trips through _load_tree (paths.py): 3 trips from node 0 to 2
_LOAD = textwrap.dedent(
    """
    import numpy as np

    import kcopy as K

    i64 = np.int64
    xo, ib = np.zeros((1, 3)), np.zeros((1, 3), dtype=np.uint8)
    K.bush_init(
        np.array([0], i64), np.array([0, 1], i64), np.array([2], i64), np.array([3.0]),
        np.array([0, 2, 3, 3], i64), np.array([0, 1, 2], i64), np.array([0, 0, 1], i64),
        np.array([1, 2, 2], i64), np.array([1.0, 5.0, 1.0]), np.zeros(3, np.uint8), xo, ib,
    )
    print("flows", xo[0].tolist())
    """
)


def test_cached_kernels_follow_an_edit_of_a_callee_in_another_module(tmp_path):
    pkg = tmp_path / "kcopy"
    shutil.copytree(
        REPO / "optimizer" / "_kernels", pkg, ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
    env.update(NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(tmp_path))
    assert "flows [3.0, 0.0, 3.0]" in _python(_LOAD, cwd=tmp_path, env=env)
    assert list((tmp_path / "cache").rglob("bush.bush_init-*.nbc"))  # cached
    paths = pkg / "paths.py"
    text = paths.read_text()
    assert text.count("            flow[a] += f\n") == 1
    paths.write_text(
        text.replace("            flow[a] += f\n", "            flow[a] += 2.0 * f\n")
    )
    # bush.py is unchanged, so numba alone would load its stale bush_init
    assert "flows [6.0, 0.0, 6.0]" in _python(_LOAD, cwd=tmp_path, env=env)
