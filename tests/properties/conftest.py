"""Hypothesis profiles for the property tests: random by default (each run explores new cases),
derandomized under CI (CI=true), so a CI run is reproducible and never red by luck of the draw.
HYPOTHESIS_PROFILE=ci (or dev) picks one explicitly."""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
