"""A toy question type's generator, as a user would add one: this module, one entry in
`vsi_data/question_types.py` naming it (tests/test_extension.py makes that entry at run time), and its
templates and recipe settings."""

from __future__ import annotations

import numpy as np

from vsi_data.qa.context import SceneContext
from vsi_data.qa.generators.base import Candidate, Generator


class CategoryCount(Generator):
    """How many different kinds of object the room holds."""

    def candidates(self, ctx: SceneContext, rng: np.random.Generator) -> list[Candidate]:
        kinds = len(ctx.askable)
        return [Candidate([], str(kinds), {}, {"categories": sorted(ctx.askable)}, float(kinds))] if kinds else []
