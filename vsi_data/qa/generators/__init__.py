"""Question generators by VSI-Bench question type: each type's generator, as `vsi_data.question_types` names it."""

from vsi_data.lazy import load_target
from vsi_data.qa.generators.base import Candidate, Generator, Params
from vsi_data.question_types import QUESTION_TYPES

GENERATORS: dict[str, type[Generator]] = {
    name: load_target(spec.generator) for name, spec in QUESTION_TYPES.items() if spec.generator is not None
}

__all__ = ["GENERATORS", "Candidate", "Generator", "Params"]
