"""The kernels also run as plain Python: the ``nojit`` kernel tests pass with the JIT off.

With ``NUMBA_DISABLE_JIT=1`` numba's decorators hand back the Python functions, ``prange``
is ``range`` and the thread settings still answer, so the kernels run unchanged; this keeps
them debuggable (and measurable by coverage tools) line by line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_RUN = textwrap.dedent(
    """
    import sys

    import pytest

    from optimizer import _kernels as K

    assert not hasattr(K.link_costs, "py_func"), "the JIT is on"
    sys.exit(pytest.main(["-q", "-m", "nojit", "-p", "no:cacheprovider", "tests/test_kernels.py"]))
    """
)


def test_kernel_tests_pass_with_the_jit_disabled():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", _RUN],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    passed = re.search(r"(\d+) passed", out)
    assert passed and int(passed.group(1)) >= 10, out[-2000:]
