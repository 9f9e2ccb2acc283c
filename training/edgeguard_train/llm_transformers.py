"""A causal LM loaded in this process with ``transformers``, behind the same interface as the HTTP backend.

For machines that hold the generator or teacher themselves (a GPU box without a server). ``transformers``
is optional for the package: importing this module without it raises an ImportError that says so.
"""

from __future__ import annotations

import threading
from typing import Any, List, Mapping, Optional, Sequence

import torch

from .llm_backends import SAFE_WORD, UNSAFE_WORD, LLMBackend, LLMResponseError, LlamaGuardPrompt

try:
    import transformers
except ImportError as e:  # pragma: no cover - depends on the machine
    raise ImportError("the transformers backend needs the 'transformers' package; "
                      "use --*-backend openai with a server instead") from e


class TransformersCausalLMBackend(LLMBackend):
    """Generation and Llama Guard scoring with a ``transformers`` causal LM.

    Calls are serialised by a lock: one model instance is not safe to run from several threads, and
    on one device parallel calls would not be faster anyway.
    """

    def __init__(self, model_name_or_path: str, *, model: Any = None, tokenizer: Any = None,
                 device: Optional[str] = None, guard_prompt: Optional[LlamaGuardPrompt] = None) -> None:
        self.name = f"transformers:{model_name_or_path}"
        self.tokenizer = (tokenizer if tokenizer is not None
                          else transformers.AutoTokenizer.from_pretrained(model_name_or_path))
        self.model = (model if model is not None
                      else transformers.AutoModelForCausalLM.from_pretrained(model_name_or_path))
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device).eval()
        self.guard_prompt = guard_prompt or LlamaGuardPrompt()
        self._lock = threading.Lock()

    def complete(self, prompt: str, max_tokens: int, temperature: float = 0.0,
                 stop: Optional[Sequence[str]] = None, seed: Optional[int] = None) -> str:
        ids = self.tokenizer(prompt, return_tensors="pt").input_ids
        text = self._generate(ids, max_tokens, temperature, seed)
        return _cut_at_stop(text, stop)

    def chat(self, messages: Sequence[Mapping[str, str]], max_tokens: int, temperature: float = 0.0,
             seed: Optional[int] = None) -> str:
        encoded = self.tokenizer.apply_chat_template([dict(m) for m in messages], add_generation_prompt=True,
                                                     return_tensors="pt")
        # Depending on the transformers version this is the id tensor or an encoding that holds it.
        ids = encoded["input_ids"] if not isinstance(encoded, torch.Tensor) else encoded
        return self._generate(ids, max_tokens, temperature, seed)

    def unsafe_probability(self, prompt: str, response: Optional[str] = None) -> float:
        """Softmax over the two verdict tokens' logits at the first generated position.

        Each verdict is represented by the first token of its word (Llama-3 tokenizers have whole-word
        tokens for both; one that splits ``unsafe`` into ``un`` + ``safe`` is still told apart by ``un``).
        A tokenizer whose two words start with the same token cannot give a one-token verdict: an error.
        """
        ids = self.tokenizer(self.guard_prompt.render(prompt, response), return_tensors="pt").input_ids
        safe_id = self._first_token_id(SAFE_WORD)
        unsafe_id = self._first_token_id(UNSAFE_WORD)
        if safe_id == unsafe_id:
            raise LLMResponseError(f"{self.name}: 'safe' and 'unsafe' start with the same token; "
                                   "this tokenizer cannot give a one-token verdict")
        with self._lock, torch.no_grad():
            logits = self.model(ids.to(self.device)).logits[0, -1].double()
        pair = torch.stack([logits[safe_id], logits[unsafe_id]])
        return float(torch.softmax(pair, dim=0)[1])

    def _first_token_id(self, word: str) -> int:
        ids: List[int] = self.tokenizer(word, add_special_tokens=False).input_ids
        if not ids:
            raise LLMResponseError(f"{self.name}: the tokenizer encodes {word!r} as no tokens")
        return ids[0]

    def _generate(self, ids: torch.Tensor, max_tokens: int, temperature: float, seed: Optional[int]) -> str:
        ids = ids.to(self.device)
        options = {"max_new_tokens": max_tokens, "do_sample": temperature > 0,
                   "attention_mask": torch.ones_like(ids)}
        if temperature > 0:
            options["temperature"] = temperature
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        if pad is not None:
            options["pad_token_id"] = pad
        with self._lock, torch.no_grad():
            if seed is not None:
                torch.manual_seed(seed)
            out = self.model.generate(ids, **options)
        return self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def _cut_at_stop(text: str, stop: Optional[Sequence[str]]) -> str:
    """Servers stop at the first stop sequence; ``generate`` does not, so the text is cut afterwards."""
    if not stop:
        return text
    cut = min((text.find(s) for s in stop if s and s in text), default=-1)
    return text if cut < 0 else text[:cut]
