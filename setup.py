"""tierwise is one import package whose subpackages are the top-level folders.

``package_dir={"tierwise": "."}`` maps this repository root onto the
``tierwise`` package, so ``engine/`` installs as ``tierwise.engine`` and no
generic top-level names reach a user's environment (see DESIGN.md).
``find_packages`` over those folders picks up their subpackages (engine/backends, ...).
"""
from setuptools import find_packages, setup

SUBPACKAGES = ("engine", "dsl", "plugins", "rulesets", "cli")

setup(
    package_dir={"tierwise": "."},
    packages=["tierwise", *(f"tierwise.{name}" for name in
                            find_packages(include=[f"{top}*" for top in SUBPACKAGES]))],
    package_data={"tierwise.dsl": ["*.lark"], "tierwise.rulesets": ["*.tier"],
                  "tierwise.engine.store": ["migrations/*.py", "migrations/*.mako", "migrations/versions/*.py"]},
)
