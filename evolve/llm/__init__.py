"""LLM access for the search: the litellm client, record/replay cassettes, the model bandit."""
from evolve.llm.bandit import ModelBandit, arm_key
from evolve.llm.cassette import Cassette, CassetteError, CassetteMiss
from evolve.llm.client import LLMBudgetExceeded, LLMClient, LLMError, LLMReply, ModelSpec, prompt_hash

__all__ = ["Cassette", "CassetteError", "CassetteMiss", "LLMBudgetExceeded", "LLMClient", "LLMError",
           "LLMReply", "ModelBandit", "ModelSpec", "arm_key", "prompt_hash"]
