"""tierwise is one import package whose subpackages are the top-level folders.

``package_dir={"tierwise": "."}`` maps this repository root onto the
``tierwise`` package, so ``engine/`` installs as ``tierwise.engine`` and no
generic top-level names reach a user's environment (see DESIGN.md).
"""
from setuptools import setup

SUBPACKAGES = ("engine", "dsl", "plugins", "rulesets", "cli")

setup(
    package_dir={"tierwise": "."},
    packages=["tierwise", *(f"tierwise.{name}" for name in SUBPACKAGES)],
    package_data={"tierwise.dsl": ["*.lark"], "tierwise.rulesets": ["*.tier"]},
)
