"""crossover: an LLM merges two parents from the front into one program.

Both programs and their metrics (per category, so the model sees where each is strong)
go into one prompt; the answer is the whole merged program by default, or SEARCH/REPLACE
edits against the first parent. The same bounded fix loop as `llm_edit` applies, and a
child identical to either parent is sent back as no merge at all.
"""
from __future__ import annotations

from evolve.llm.bandit import ModelBandit
from evolve.llm.client import LLMClient
from evolve.operators import prompts
from evolve.operators.base import OperatorContext, OperatorError
from evolve.operators.llm_edit import LLMEdit


class Crossover(LLMEdit):
    name = "crossover"
    arity = 2

    def __init__(self, client: LLMClient, *, bandit: ModelBandit | None = None, full_rewrite: bool = True,
                 max_fix_attempts: int = 2, components: bool = True) -> None:
        super().__init__(client, bandit=bandit, full_rewrite=full_rewrite, max_fix_attempts=max_fix_attempts,
                         components=components)

    def check(self, ctx: OperatorContext) -> None:
        super().check(ctx)
        a, b = ctx.parents[0], ctx.parents[1]
        if a.id == b.id or a.code == b.code:
            raise OperatorError(f"crossover needs two different parents, got {a.id} twice")

    def messages(self, ctx: OperatorContext) -> list[dict[str, str]]:
        return prompts.crossover_messages(ctx, full_rewrite=self.full_rewrite, components=self.components)

    def unchanged(self, code: str, ctx: OperatorContext) -> bool:
        return any(code.strip() == p.code.strip() for p in ctx.parents[:2])
