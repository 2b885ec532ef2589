"""Local transformers models: batched, left-padded generation and white-box access."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from ..errors import RefusalkitError
from ..progress import progress_bar
from ..types import GenParams, Prompt, Response
from .base import Messages, StopCheck, as_prompts, to_messages
from .bundled import ALIASES


def resolve_model_path(spec: str) -> str:
    """An alias, a local directory, or a hub id (returned as is for transformers to fetch)."""
    name = spec[3:] if spec.startswith("hf:") else spec
    if name in ALIASES:
        return str(ALIASES[name].resolve())
    if Path(name).expanduser().is_dir():
        path = Path(name).expanduser()
        if not (path / "config.json").exists():
            raise RefusalkitError(f"{path} is a folder but holds no config.json; is it a transformers model?")
        return str(path)
    if name.count("/") != 1 or name.startswith((".", "/", "~")):
        known = ", ".join(ALIASES)
        raise RefusalkitError(
            f"unknown model '{spec}': use an alias ({known}), a local model folder, a hub id like org/name, "
            "or openai:NAME for an OpenAI-compatible server"
        )
    return name


class _EarlyStop(StoppingCriteria):
    """Asks ``should_stop`` every ``every`` tokens whether a row's partial answer is settled."""

    def __init__(self, tokenizer, prompt_len: int, should_stop: StopCheck, every: int, eos_ids: set[int]):
        self.tokenizer, self.prompt_len, self.should_stop, self.every = tokenizer, prompt_len, should_stop, every
        self.eos_ids = eos_ids
        self.stopped: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        batch = input_ids.shape[0]
        if self.stopped is None:
            self.stopped = torch.zeros(batch, dtype=torch.bool, device=input_ids.device)
        n_new = input_ids.shape[1] - self.prompt_len
        if n_new % self.every == 0:
            new = input_ids[:, self.prompt_len :]
            live = [i for i in range(batch) if not self.stopped[i] and not _has_eos(new[i], self.eos_ids)]
            if live:
                texts = self.tokenizer.batch_decode(new[live], skip_special_tokens=True)
                for i, stop in zip(live, self.should_stop(texts)):
                    if stop:
                        self.stopped[i] = True
        return self.stopped.clone()


def _has_eos(row: torch.Tensor, eos_ids: set[int]) -> bool:
    return any(int(t) in eos_ids for t in row)


# Characters per token assumed when probing a prompt's start (see HFTarget.prompt_tokens); text runs
# about 4 per token, so a start this long that still fits the context means an unusual text, counted in full.
PROBE_CHARS_PER_TOKEN = 8


def default_device() -> str:
    """Where local models run: ``$REFUSALKIT_DEVICE`` if set (``cpu``, ``cuda``, ``cuda:1``..., or ``auto``:
    transformers' ``device_map="auto"`` spreads the layers over every GPU it sees, then the CPU), else
    the first GPU when PyTorch sees one, else the CPU."""
    return os.environ.get("REFUSALKIT_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")


class HFTarget:
    """A causal LM from transformers, run locally (on the GPU when there is one, see :func:`default_device`)."""

    whitebox = True
    # The refusal-token scheme (refusalkit.targets.refusal_tokens.TokenScheme) of a model trained with one, else None.
    refusal_tokens = None

    def __init__(self, model, tokenizer, target_id: str) -> None:
        self.model, self.tokenizer, self.id = model, tokenizer, target_id
        self.model.eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        self.eos_ids = {int(e) for e in eos if e is not None} | {int(self.tokenizer.eos_token_id)}

    @classmethod
    def load(cls, spec: str, adapter: str | None = None, device: str | None = None) -> "HFTarget":
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # refusalkit shows its own progress; weight loading is quick
        path = resolve_model_path(spec)
        device = device or default_device()
        # "auto": accelerate places each layer on a device as it loads and moves activations between
        # them; refusalkit's hooks move their vectors to whichever device the hidden state is on
        placement = {"device_map": "auto"} if device == "auto" else {}
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **placement)
        except OSError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RefusalkitError(
                f"could not load model '{spec}' ({first}); offline, use a local folder or a bundled alias "
                "(see `refusalkit models`)"
            ) from exc
        target_id = spec[3:] if spec.startswith("hf:") else spec
        scheme = None
        if adapter:
            model, tokenizer, scheme = _apply_adapter(model, tokenizer, adapter)
            target_id = f"{target_id}+{Path(adapter).name}"
        if device != "auto":
            model = model.to(device)
        target = cls(model, tokenizer, target_id)
        target.refusal_tokens = scheme
        return target

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # --- prompts -------------------------------------------------------------------------------
    def render(self, text: str, system_prompt: str | None = None) -> str:
        """The chat-templated prompt string the model sees, ending where the answer starts."""
        return self.render_messages(to_messages(text, system_prompt))

    def render_messages(self, messages: Messages) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return "\n".join(m["content"] for m in messages) + "\n"

    def encode(self, rendered: Sequence[str]):
        """Left-padded batch of already rendered prompts (the template carries its own BOS)."""
        return self.tokenizer(list(rendered), return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )

    # --- generation ----------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Prompt | str],
        params: GenParams | None = None,
        should_stop: StopCheck | None = None,
        progress: bool = True,
        stop_every: int = 4,
        prefill: Sequence[str] | None = None,
    ) -> list[Response]:
        """Answers to ``prompts``. ``prefill``: per prompt, text placed at the start of the answer before
        generation starts (e.g. a forced refusal token); it is not part of the returned text."""
        params = params or GenParams()
        items = as_prompts(prompts)
        rendered = _prefilled([self.render(p.text, params.system_prompt) for p in items], prefill)
        return self._generate_rendered([p.id for p in items], rendered, params, should_stop, progress, stop_every)

    def generate_messages(
        self,
        conversations: Sequence[Messages],
        params: GenParams | None = None,
        progress: bool = False,
        prefill: Sequence[str] | None = None,
    ) -> list[Response]:
        params = params or GenParams()
        rendered = _prefilled([self.render_messages(list(c)) for c in conversations], prefill)
        return self._generate_rendered([f"c{i}" for i in range(len(rendered))], rendered, params, None, progress, 4)

    # --- input limits --------------------------------------------------------------------------
    @property
    def context_length(self) -> int:
        """Tokens the model attends to (prompt and answer together): its position limit, or the
        tokenizer's when that is smaller."""
        limits = [
            getattr(self.model.config, "max_position_embeddings", None),
            getattr(self.tokenizer, "model_max_length", None),
        ]
        known = [int(n) for n in limits if isinstance(n, int) and 0 < n < 10**7]
        return min(known) if known else 2048

    def prompt_tokens(self, rendered: str) -> tuple[int, bool]:
        """``(n, exact)``: the token count of a rendered prompt. Only the first ``PROBE_CHARS_PER_TOKEN`` x
        context characters are tokenized first; when they alone pass the context, ``n`` counts them and
        ``exact`` is False (the prompt has at least ``n`` tokens). So a huge prompt costs no more than that."""
        head = rendered[: PROBE_CHARS_PER_TOKEN * self.context_length]
        n = len(self.tokenizer(head, add_special_tokens=False)["input_ids"])
        if len(head) == len(rendered):
            return n, True
        if n > self.context_length:
            return n, False
        return len(self.tokenizer(rendered, add_special_tokens=False)["input_ids"]), True

    def too_long(self, n: int, exact: bool, max_new_tokens: int) -> str | None:
        """Why a prompt of ``n`` tokens cannot be answered in ``max_new_tokens`` within the context, or None."""
        ctx = self.context_length
        if n + max_new_tokens <= ctx:
            return None
        count = f"{n}" if exact else f"at least {n - 1}"
        if n >= ctx:
            return f"prompt too long: {count} tokens, the model's context is {ctx}; shorten the prompt"
        return (
            f"prompt too long: {count} tokens plus up to {max_new_tokens} new ones pass the model's context "
            f"of {ctx}; shorten the prompt or lower --max-new-tokens"
        )

    def _generate_rendered(self, ids, rendered, params, should_stop, progress, stop_every) -> list[Response]:
        # Prompts that cannot fit the context are answered with an error (judged unscored) before any
        # tensor is built for them; the rest are generated.
        counted = [self.prompt_tokens(r) for r in rendered]
        out: list[Response | None] = [None] * len(rendered)
        for i, (n, exact) in enumerate(counted):
            reason = self.too_long(n, exact, params.max_new_tokens)
            if reason:
                out[i] = Response(
                    prompt_id=ids[i],
                    text="",
                    target_id=self.id,
                    params=params.to_dict(),
                    prompt_tokens=n,
                    finish_reason="error",
                    error=reason,
                )
        fit = [i for i in range(len(rendered)) if out[i] is None]
        order = sorted(fit, key=lambda i: -counted[i][0])  # similar lengths share a batch
        bs = max(1, params.batch_size)
        with progress_bar(f"generating ({self.id})", len(rendered), progress) as advance:
            advance(len(rendered) - len(fit))
            for start in range(0, len(order), bs):
                idx = order[start : start + bs]
                for i, resp in zip(
                    idx,
                    self._generate_batch(
                        [ids[i] for i in idx], [rendered[i] for i in idx], params, should_stop, stop_every
                    ),
                ):
                    out[i] = resp
                advance(len(idx))
        return [r for r in out if r is not None]

    @torch.no_grad()
    def _generate_batch(self, ids, rendered, params: GenParams, should_stop, stop_every) -> list[Response]:
        enc = self.encode(rendered)
        prompt_len = enc["input_ids"].shape[1]
        criteria = None
        early = None
        if should_stop is not None:
            early = _EarlyStop(self.tokenizer, prompt_len, should_stop, stop_every, self.eos_ids)
            criteria = StoppingCriteriaList([early])
        seqs = self._sequences(enc, params, criteria)
        new = seqs[:, prompt_len:]
        mask = enc["attention_mask"]
        responses = []
        for row in range(new.shape[0]):
            toks = new[row].tolist()
            n = len(toks)
            reason = "length"
            for j, t in enumerate(toks):
                if t in self.eos_ids:
                    n, reason = j, "stop"
                    break
            # A row stopped early is padded with the pad token (often the EOS token) while the rest of the
            # batch runs on, so its flag, not the first EOS, tells why it ended.
            if early is not None and early.stopped is not None and bool(early.stopped[row]):
                reason = "early_stop"
            text = self.tokenizer.decode(toks[:n], skip_special_tokens=True).strip()
            responses.append(
                Response(
                    prompt_id=ids[row],
                    text=text,
                    target_id=self.id,
                    params=params.to_dict(),
                    tokens=n,
                    prompt_tokens=int(mask[row].sum()),
                    finish_reason=reason,
                )
            )
        return responses

    def _decoding(self, params: GenParams) -> dict:
        """The ``model.generate`` keywords of ``params`` (greedy, or sampling seeded by ``params.seed``)."""
        kwargs: dict = dict(
            do_sample=params.temperature > 0,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=sorted(self.eos_ids),
        )
        if params.temperature > 0:
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
            torch.manual_seed(params.seed)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        return kwargs

    def _sequences(self, enc, params: GenParams, criteria) -> torch.Tensor:
        """Prompt and answer token ids of one encoded batch (``[batch, prompt + new]``); a wrapping
        target that decodes in stages (:class:`refusalkit.internals.mogu.MoGUTarget`) replaces this."""
        return self.model.generate(
            **enc, max_new_tokens=params.max_new_tokens, stopping_criteria=criteria, **self._decoding(params)
        )

    # --- white-box -----------------------------------------------------------------------------
    @torch.no_grad()
    def next_token_logits(
        self, prompts: Sequence[Prompt | str], system_prompt: str | None = None, batch_size: int = 16
    ) -> torch.Tensor:
        """Logits of the first answer token for each prompt, shape ``[n, vocab]`` (one forward pass). A
        conversation (a list of messages) is rendered whole, as :meth:`generate_messages` renders it."""
        rendered = [
            self.render_messages(list(p))
            if isinstance(p, list)
            else self.render(p if isinstance(p, str) else p.text, system_prompt)
            for p in prompts
        ]
        rows = []
        for start in range(0, len(rendered), batch_size):
            enc = self.encode(rendered[start : start + batch_size])
            rows.append(self.model(**enc).logits[:, -1, :].float().cpu())
        return torch.cat(rows) if rows else torch.empty(0, self.model.config.vocab_size)


def _prefilled(rendered: list[str], prefill: Sequence[str] | None) -> list[str]:
    if prefill is None:
        return rendered
    if len(prefill) != len(rendered):
        raise ValueError(f"{len(prefill)} prefills for {len(rendered)} prompts")
    return [r + f for r, f in zip(rendered, prefill)]


def _apply_adapter(model, tokenizer, adapter: str):
    """``(model, tokenizer, scheme)``: the model with the adapter merged in; an adapter trained with
    refusal tokens first restores its tokenizer and the tokens' embedding rows (``scheme`` says which,
    else None)."""
    if not Path(adapter).is_dir():
        raise RefusalkitError(f"adapter folder {adapter} does not exist")
    try:
        from peft import PeftModel
    except ImportError as exc:  # pragma: no cover - peft is a dependency
        raise RefusalkitError("adapters need peft: pip install peft") from exc
    from .refusal_tokens import restore

    tokenizer, scheme = restore(model, tokenizer, adapter)
    return PeftModel.from_pretrained(model, adapter).merge_and_unload(), tokenizer, scheme
