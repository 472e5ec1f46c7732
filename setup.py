"""Shim for Beam's `--setup_file ./setup.py`: everything is declared in pyproject.toml.

Dataflow (and the portable runners) run `pip install .` on this folder's sdist on each worker;
setuptools reads the name, version, packages and dependencies from pyproject.toml.
"""

from setuptools import setup

setup()
