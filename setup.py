"""Only the C part of the build; everything else is in pyproject.toml.

formats/_scan.c is the Apache family's line scanner (the parsing hot path). It is optional: where
it cannot be compiled, the formats fall back to their regexes, which accept the same lines.
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("formats._scan", ["formats/_scan.c"], optional=True,
                             extra_compile_args=["-O2"])])
