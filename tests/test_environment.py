"""environment.yml (Binder) lists exactly the dependencies of pyproject.toml."""

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra, items in project["optional-dependencies"].items():
        reqs += [r for r in items if not r.startswith("regbook")]
    return {str(Requirement(r)) for r in reqs}


def _environment_requirements() -> tuple[set[str], list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    options = [line for line in pip_section if line.startswith("-")]
    reqs = {str(Requirement(line)) for line in pip_section if not line.startswith("-")}
    return reqs, options


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    env_reqs, _ = _environment_requirements()
    assert env_reqs == _pyproject_requirements()


def test_environment_yml_installs_the_repo_on_python_311():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    assert "conda-forge" in env["channels"]
    _, options = _environment_requirements()
    assert "-e .[all]" in options


def test_torch_is_pinned_to_the_cpu_build_series():
    assert "torch==2.13.*" in _pyproject_requirements()
