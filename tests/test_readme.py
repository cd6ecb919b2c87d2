"""The README's two set-up commands are the ones CI runs."""

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```bash\n(python3 -m venv[^\n]*)\n```", text)


def test_readme_opens_with_the_two_commands():
    cmds = _commands()
    assert len(cmds) >= 2
    assert "pip install ." in cmds[0] and "roadopt optimize" in cmds[0]
    assert '".[dev]"' in cmds[1] and "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    assert _commands()[1] in ci.splitlines()


def _python_snippet() -> str:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has a Python snippet"
    return blocks[0]


@pytest.mark.slow
def test_the_readme_python_snippet_runs_offline(tmp_path, monkeypatch, data_dir):
    """The snippet as a new user pastes it: offline, data through ROADOPT_DATA_DIR."""
    import socket

    def no_network(*args, **kwargs):
        raise OSError("network access in a test (the README snippet must run offline)")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.chdir(tmp_path)
    exec(compile(_python_snippet(), "README.md", "exec"), {})
    doc = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert doc["status"] == "optimal" and doc["selected"]
    assert (tmp_path / "out" / "report.html").is_file()
