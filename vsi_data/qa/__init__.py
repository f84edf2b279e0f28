"""Questions from scenes: recipes and templates in, `Question`s out. Knows nothing of sources or files."""

from __future__ import annotations

from vsi_data.qa.context import SceneContext
from vsi_data.qa.question import Question
from vsi_data.qa.recipe import Recipe, RecipeError, load_recipe
from vsi_data.scene import Scene
from vsi_data.seeding import rng_for


def generate_questions(
    scene: Scene, recipe: Recipe, seed: int, exhaustive: bool = False, video: bool = True
) -> list[Question]:
    """All questions of one scene, type by type, each type with its own seeded generator.

    A type's questions depend only on (seed, dataset, scene, type), so adding a type to a recipe or
    running scenes in another order changes nothing else. Without `video`, types that ask about the
    scene's video (appearance order) are not generated: the rows would refer to a video that is not there.
    """
    ctx = SceneContext(scene, recipe.distance_metric, recipe.vocabulary)
    questions: list[Question] = []
    for generator in recipe.generators:
        if generator.needs_video and not video:
            continue
        rng = rng_for(seed, scene.dataset, scene.scene_id, generator.question_type)
        questions.extend(generator.generate(ctx, rng, exhaustive))
    return questions


def question_id(dataset: str, scene_id: str, question_type: str, index: int) -> str:
    return f"{dataset}-{scene_id}-{question_type}-{index:04d}"


__all__ = [
    "Question",
    "Recipe",
    "RecipeError",
    "SceneContext",
    "generate_questions",
    "load_recipe",
    "question_id",
]
