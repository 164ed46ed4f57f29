"""Benchmarks, run by hand as ``python bench/NAME.py`` (see README.md here).

A package only for mypy: it makes bench/labels.py the module ``bench.labels``, apart
from the ``labels`` package it measures (pyproject.toml, ``[tool.mypy]``).
"""
