"""Questions from scenes: recipes and templates in, `Question`s out. Knows nothing of sources or files."""

from __future__ import annotations

from vsi_data.qa.context import SceneContext
from vsi_data.qa.question import Question
from vsi_data.qa.recipe import Recipe, RecipeError, load_recipe
from vsi_data.qa.visible import visible_context
from vsi_data.scene import Scene
from vsi_data.seeding import rng_for

NO_VIDEO = "built with --no-video: questions about a scene's video need the video"


def generate_questions(
    scene: Scene,
    recipe: Recipe,
    seed: int,
    exhaustive: bool = False,
    video: bool = True,
    why_none: dict[str, str] | None = None,
) -> list[Question]:
    """All questions of one scene, type by type, each type with its own seeded generator.

    A type's questions depend only on (seed, dataset, scene, type), so adding a type to a recipe or
    running scenes in another order changes nothing else. Without `video`, types that ask about the
    scene's video (appearance order) are not generated: the rows would refer to a video that is not there.
    `why_none`, when given, receives each type that gave no question and why, so a build can say so.
    """
    ctx = SceneContext(scene, recipe.geometry.distance, recipe.vocabulary)
    questions: list[Question] = []
    for generator in recipe.generators:
        skipped = generator.needs_video and not video
        generated = []
        asked, dropped_why = ctx, None
        if not skipped:
            if generator.question_type in recipe.visibility.require_visible:
                asked, dropped_why = visible_context(ctx, recipe.visibility, generator)
            rng = rng_for(seed, scene.dataset, scene.scene_id, generator.question_type)
            generated = generator.generate(asked, rng, exhaustive)
        if not generated and why_none is not None:
            why_none[generator.question_type] = NO_VIDEO if skipped else dropped_why or generator.why_none(ctx)
        questions.extend(generated)
    return questions


def question_id(dataset: str, scene_id: str, question_type: str, index: int) -> str:
    return f"{dataset}-{scene_id}-{question_type}-{index:04d}"


__all__ = [
    "NO_VIDEO",
    "Question",
    "Recipe",
    "RecipeError",
    "SceneContext",
    "generate_questions",
    "load_recipe",
    "question_id",
]
