"""Stop conditions: small, composable answers to "should the campaign stop making children?"."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence


@dataclass(frozen=True)
class CampaignState:
    candidates: int  # candidates created, seeds included
    elapsed_s: float  # wall time over all sessions of the campaign
    llm_usd: float
    since_improvement: int  # finished candidates since the front's hypervolume last grew
    failed_proposals: int  # operator failures in a row
    llm_tokens: int = 0  # prompt + completion tokens of every LLM call, priced or not


class StopCondition(Protocol):
    def reason(self, state: CampaignState) -> str:
        """Empty to go on; otherwise why to stop."""
        ...


@dataclass(frozen=True)
class MaxEvaluations:
    limit: int

    def reason(self, state: CampaignState) -> str:
        return "evaluation budget spent" if state.candidates >= self.limit else ""


@dataclass(frozen=True)
class MaxWallSeconds:
    limit: float

    def reason(self, state: CampaignState) -> str:
        return f"wall-clock budget of {self.limit:g} s spent" if state.elapsed_s >= self.limit else ""


@dataclass(frozen=True)
class MaxLLMDollars:
    limit: float

    def reason(self, state: CampaignState) -> str:
        return f"LLM budget of ${self.limit:g} spent" if state.llm_usd >= self.limit else ""


@dataclass(frozen=True)
class MaxLLMTokens:
    limit: int

    def reason(self, state: CampaignState) -> str:
        return f"LLM token budget of {self.limit} spent" if state.llm_tokens >= self.limit else ""


@dataclass(frozen=True)
class NoImprovement:
    patience: int

    def reason(self, state: CampaignState) -> str:
        if state.since_improvement >= self.patience:
            return f"no front improvement in {self.patience} candidates"
        return ""


@dataclass(frozen=True)
class StopFile:
    """Touch this file to stop a campaign gracefully from outside (it is removed on resume)."""

    path: Path

    def reason(self, state: CampaignState) -> str:
        return f"stop file {self.path} found" if self.path.exists() else ""


@dataclass(frozen=True)
class FailedProposals:
    limit: int

    def reason(self, state: CampaignState) -> str:
        if state.failed_proposals >= self.limit:
            return f"operators failed {self.limit} times in a row to make a new program"
        return ""


@dataclass(frozen=True)
class AnyOf:
    conditions: Sequence[StopCondition]

    def reason(self, state: CampaignState) -> str:
        for cond in self.conditions:
            why = cond.reason(state)
            if why:
                return why
        return ""
