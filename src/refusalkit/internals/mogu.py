"""MoGU (Du et al., 2024): two LoRA responders and a per-layer router on an aligned model, as a target.

A MoGU folder (written by ``refusalkit mogu train``, :mod:`refusalkit.train.mogu`) holds

- ``glad/`` and ``unwilling/``: two peft LoRA adapters on the attention output projection (``o_proj``)
  of every block; the glad one was trained to answer benign requests, the unwilling one to refuse
  harmful ones (each also loads alone with ``--adapter``);
- ``router.safetensors``: in every block, two scalar gates per token read from the ``o_proj`` input
  ``x`` (a low-rank linear map and a sigmoid each): ``alpha`` weighs the unwilling responder,
  ``beta`` the glad one, and the block's attention output becomes
  ``o_proj(x) + alpha * unwilling(x) + beta * glad(x)`` (the ``plain`` form; ``paper``, the paper's released
  code, :data:`FORMS`);
- ``mogu.json``: what the folder was trained on and with which settings.

:class:`MoGUTarget` wraps a local target (the aligned model the responders were trained on) and
routes only the prompt and the first ``m`` answer tokens (default 5); the plain model then writes
the rest from those tokens. How it goes on is the *continuation* (:data:`CONTINUATIONS`):

- ``replay`` (the default, as in the paper): it re-reads prompt and routed tokens without the
  responders in a second call (a second prefill);
- ``cache``: it goes on from the routed pass's key/value cache in the same call, so the routed states
  of the prompt keep steering the answer;
- ``shared``: the prompt is read once, plain; only the passes that choose the routed tokens (the
  prompt's last position and the routed tokens) are routed, and the plain model re-reads those
  positions over the shared prompt cache.

Each response carries the gates it was routed with in ``Response.extra["mogu"]``: per layer, the mean
``alpha`` and ``beta`` over the positions that chose the routed answer tokens. :func:`gate_summary`
and :func:`gate_figure` read them back from a run's rows.

The gates are forward hooks on each ``o_proj`` installed by :func:`refusalkit.internals.hooks.hooked`,
so they are removed when the call that installed them ends, also when it raises.
"""

from __future__ import annotations

import copy
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch
from torch import nn

from ..errors import CapabilityError, RefusalkitError
from ..targets.base import require_whitebox
from ..targets.hf import HFTarget
from .hooks import HookSpec, block_parts, decoder_layers, hooked, out_proj

MANIFEST = "mogu.json"
KIND = "refusalkit-mogu"
RESPONDERS = ("glad", "unwilling")
ROUTER_FILE = "router.safetensors"
ROUTED_TOKENS = 5
# How the plain model writes the rest of the answer after the routed tokens (see the module docstring).
CONTINUATIONS = ("replay", "cache", "shared")
CONTINUATION = "replay"
# How the responders join a block's o_proj: "plain", o_proj(x) + alpha*unwilling(x) + beta*glad(x) (the
# paper's formula), or "paper", (alpha + beta)*o_proj(x) + 2*(alpha*unwilling(x) + beta*glad(x)) (its released code)
FORMS = ("plain", "paper")


def check_form(value: str) -> str:
    """``value`` when it names a form (:data:`FORMS`), else one error line."""
    if value not in FORMS:
        raise RefusalkitError(f"MoGU form '{value}' is not one of {', '.join(FORMS)}")
    return value


def check_continuation(value: str, what: str = "MoGU continuation") -> str:
    """``value`` when it names a continuation, else one error line naming ``what`` (an option, say)."""
    if value not in CONTINUATIONS:
        raise RefusalkitError(f"{what} must be one of {', '.join(CONTINUATIONS)}; got {value!r}")
    return value


def _cache_keyword() -> str:
    """The ``generate`` keyword for a key/value cache: ``cache`` in newer transformers, ``past_key_values``
    before it."""
    try:
        from transformers.generation.utils import ALL_CACHE_NAMES
    except ImportError:
        return "past_key_values"
    return "cache" if "cache" in ALL_CACHE_NAMES else "past_key_values"


CACHE_KEYWORD = _cache_keyword()


class Router(nn.Module):
    """One block's two gates: ``sigmoid(up(down(x)))`` for alpha and for beta, each a rank-``rank``
    map of the ``o_proj`` input. The input is divided by its root mean square first, so one learning
    rate suits every layer whatever the scale of its activations."""

    def __init__(self, d_in: int, rank: int) -> None:
        super().__init__()
        self.alpha = nn.Sequential(nn.Linear(d_in, rank, bias=False), nn.Linear(rank, 1))
        self.beta = nn.Sequential(nn.Linear(d_in, rank, bias=False), nn.Linear(rank, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
        return torch.sigmoid(torch.cat([self.alpha(x), self.beta(x)], dim=-1))


def new_routers(model: nn.Module, rank: int, seed: int = 0) -> nn.ModuleList:
    """Fresh routers for every block of ``model`` (seeded; they start near alpha = beta = 0.5)."""
    gen = torch.random.fork_rng()
    with gen:
        torch.manual_seed(seed)
        return nn.ModuleList(
            Router(out_proj(block_parts(layer)[0]).in_features, rank) for layer in decoder_layers(model)
        )


_LORA_KEY = re.compile(r"layers\.(\d+)\..*o_proj\.lora_([AB])\.weight$")


@dataclass
class Responder:
    """A LoRA adapter on every block's ``o_proj`` as plain tensors: ``delta(l, x) = B_l A_l x * scaling``,
    the same update peft adds (without dropout)."""

    A: list[torch.Tensor]
    B: list[torch.Tensor]
    scaling: float

    @classmethod
    def from_adapter(cls, folder: str | Path, n_layers: int) -> "Responder":
        from safetensors.torch import load_file

        folder = Path(folder)
        config_file, weights = folder / "adapter_config.json", folder / "adapter_model.safetensors"
        if not config_file.exists() or not weights.exists():
            raise RefusalkitError(
                f"{folder} is not a LoRA adapter folder (adapter_config.json and adapter_model.safetensors)"
            )
        config = json.loads(config_file.read_text())
        A: dict[int, torch.Tensor] = {}
        B: dict[int, torch.Tensor] = {}
        for key, value in load_file(str(weights)).items():
            found = _LORA_KEY.search(key)
            if found:
                (A if found.group(2) == "A" else B)[int(found.group(1))] = value.float()
        if sorted(A) != list(range(n_layers)) or sorted(B) != list(range(n_layers)):
            raise RefusalkitError(
                f"{folder} must hold a LoRA on the o_proj of each of the model's {n_layers} blocks; it has {len(A)}"
            )
        return cls([A[i] for i in range(n_layers)], [B[i] for i in range(n_layers)], config["lora_alpha"] / config["r"])

    def delta(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.A[layer].T) @ self.B[layer].T * self.scaling

    def to(self, device) -> "Responder":
        self.A = [a.to(device) for a in self.A]
        self.B = [b.to(device) for b in self.B]
        return self


class GateRecorder:
    """Collects the gates of every routed forward pass: ``calls[k][l]`` is layer ``l``'s ``[batch, tokens, 2]``
    gates in the ``k``-th pass. ``last_only`` keeps only each pass's last position (generation: the
    position that chooses the next token); ``keep_grad`` keeps them in the graph (router training)."""

    def __init__(self, last_only: bool = False, keep_grad: bool = False) -> None:
        self.last_only, self.keep_grad = last_only, keep_grad
        self.calls: list[list[torch.Tensor]] = []

    def add(self, layer: int, gates: torch.Tensor) -> None:
        if layer == 0:
            self.calls.append([])
        g = gates[:, -1:] if self.last_only else gates
        self.calls[-1].append(g if self.keep_grad else g.detach().float().cpu())

    def steps(self) -> torch.Tensor:
        """Every pass's last-position gates as ``[batch, passes, layers, 2]``."""
        return torch.stack([torch.stack([g[:, -1] for g in call], dim=1) for call in self.calls], dim=1)


class MoGU:
    """A loaded MoGU folder: both responders, the routers and the manifest (see the module docstring)."""

    def __init__(self, glad: Responder, unwilling: Responder, routers: nn.ModuleList, info: dict) -> None:
        self.glad, self.unwilling, self.routers, self.info = glad, unwilling, routers, info

    @property
    def n_layers(self) -> int:
        return len(self.routers)

    @property
    def fingerprint(self) -> str:
        return str(self.info.get("fingerprint", ""))

    @property
    def routed_tokens(self) -> int:
        return int(self.info.get("routed_tokens", ROUTED_TOKENS))

    @property
    def continuation(self) -> str:
        return str(self.info.get("continuation", CONTINUATION))

    @property
    def form(self) -> str:
        """How the responders join ``o_proj`` (:data:`FORMS`); folders from before the choice are plain."""
        return check_form(str(self.info.get("form", "plain")))

    @staticmethod
    def read_manifest(folder: str | Path) -> dict:
        """The manifest of a finished MoGU folder; one clear error for anything else."""
        folder = Path(folder)
        manifest = folder / MANIFEST
        if not folder.is_dir():
            raise RefusalkitError(f"--mogu {folder}: no such folder (train one with `refusalkit mogu train`)")
        try:
            info = json.loads(manifest.read_text())
        except (OSError, ValueError):
            info = None
        if not isinstance(info, dict) or info.get("kind") != KIND or not (folder / ROUTER_FILE).exists():
            raise RefusalkitError(
                f"--mogu {folder} is not a finished MoGU folder (needs {MANIFEST} and {ROUTER_FILE} from `refusalkit mogu train`)"
            )
        return info

    @classmethod
    def load(cls, folder: str | Path) -> "MoGU":
        from safetensors.torch import load_file

        folder = Path(folder)
        info = cls.read_manifest(folder)
        n, d_in, rank = info["n_layers"], info["d_in"], info["router_rank"]
        routers = nn.ModuleList(Router(d_in, rank) for _ in range(n))
        try:
            routers.load_state_dict(load_file(str(folder / ROUTER_FILE)))
        except RuntimeError as exc:
            raise RefusalkitError(
                f"{folder / ROUTER_FILE} does not match its {MANIFEST} ({str(exc).splitlines()[0]})"
            ) from None
        return cls(
            Responder.from_adapter(folder / "glad", n), Responder.from_adapter(folder / "unwilling", n), routers, info
        )

    def save(self, folder: str | Path, info: dict) -> None:
        """Write the routers and the manifest (the responders' adapter folders are written by training)."""
        from safetensors.torch import save_file

        folder = Path(folder)
        state = {k: v.detach().cpu().contiguous() for k, v in self.routers.state_dict().items()}
        save_file(state, str(folder / ROUTER_FILE))
        self.info = {"kind": KIND, **info}
        (folder / MANIFEST).write_text(json.dumps(self.info, indent=1))

    def check(self, model: nn.Module, what: str) -> None:
        """Fail with one line when ``model`` is not shaped like the one this MoGU was trained on."""
        layers = decoder_layers(model)
        d_in = out_proj(block_parts(layers[0])[0]).in_features
        if len(layers) != self.n_layers or d_in != self.info.get("d_in", d_in):
            raise RefusalkitError(
                f"this MoGU was trained on a model with {self.n_layers} blocks of width {self.info.get('d_in')}; "
                f"{what} has {len(layers)} of width {d_in}"
            )

    def to(self, device) -> "MoGU":
        self.routers.to(device)
        self.glad.to(device)
        self.unwilling.to(device)
        return self

    def hooks(
        self, model: nn.Module, recorder: GateRecorder | None = None, passes: int | None = None
    ) -> list[HookSpec]:
        """One forward hook per block on ``o_proj``: adds ``alpha * unwilling(x) + beta * glad(x)`` (the
        ``paper`` form: ``(alpha + beta) * o_proj(x) + 2 * (...)``, :data:`FORMS`); with ``passes``, only in
        the first ``passes`` forward passes of the model (later ones run plain)."""
        seen = [0]
        paper = self.form == "paper"

        def make(layer: int):
            def post(module, args, output):
                if layer == 0:
                    seen[0] += 1
                if passes is not None and seen[0] > passes:
                    return output
                x = args[0]
                gates = self.routers[layer](x)
                if recorder is not None:
                    recorder.add(layer, gates)
                alpha, beta = gates[..., :1].to(output.dtype), gates[..., 1:].to(output.dtype)
                routed = alpha * self.unwilling.delta(layer, x) + beta * self.glad.delta(layer, x)
                if paper:
                    return (alpha + beta) * output + 2 * routed
                return output + routed

            return post

        return [(out_proj(block_parts(block)[0]), "post", make(i)) for i, block in enumerate(decoder_layers(model))]

    @contextmanager
    def routed(
        self, model: nn.Module, recorder: GateRecorder | None = None, passes: int | None = None
    ) -> Iterator[None]:
        """Route every forward pass of ``model`` inside the block (with ``passes``, only the first ones);
        the hooks go when it ends or raises."""
        with hooked(self.hooks(model, recorder, passes)):
            yield


class MoGUTarget(HFTarget):
    """A local target answered through MoGU: the prompt and the first ``routed_tokens`` answer tokens are
    routed, the plain model writes the rest. It shares the wrapped target's model and tokenizer and keeps
    its interface (``generate``, ``generate_messages``, ``next_token_logits``...), so ``eval``, ``serve``
    and the study use it as any target."""

    def __init__(
        self,
        base,
        mogu: MoGU | str | Path,
        routed_tokens: int | None = None,
        continuation: str | None = None,
    ) -> None:
        require_whitebox(base, "MoGU")
        if not isinstance(base, HFTarget) or isinstance(base, MoGUTarget):
            raise CapabilityError(
                f"MoGU needs a local transformers model; got {getattr(base, 'id', type(base).__name__)}"
            )
        self.mogu = mogu if isinstance(mogu, MoGU) else MoGU.load(mogu)
        self.mogu.check(base.model, base.id)
        self.routed_tokens = self.mogu.routed_tokens if routed_tokens is None else int(routed_tokens)
        if self.routed_tokens < 1:
            raise RefusalkitError(f"MoGU routes at least 1 answer token; got {self.routed_tokens}")
        self.continuation = check_continuation(self.mogu.continuation if continuation is None else continuation)
        self.base = base
        # replay keeps the id it always had, so stored runs stay valid; other continuations answer otherwise
        suffix = "" if self.continuation == "replay" else f"-{self.continuation}"
        super().__init__(
            base.model, base.tokenizer, f"{base.id}+mogu-{self.mogu.fingerprint[:8]}-m{self.routed_tokens}{suffix}"
        )
        self.mogu.to(self.device)
        self._gates: torch.Tensor | None = None

    # --- decoding: routed tokens, then the plain model ----------------------------------------
    def _sequences(self, enc, params, criteria) -> torch.Tensor:
        decoding = self._decoding(params)  # seeds sampling once for every stage
        recorder = GateRecorder(last_only=True)
        decode = {"replay": self._replay, "cache": self._cache, "shared": self._shared}[self.continuation]
        return decode(enc, params, criteria, decoding, recorder)

    def _replay(self, enc, params, criteria, decoding, recorder: GateRecorder) -> torch.Tensor:
        """Route prompt and first m tokens; the plain model re-reads both in a second call and goes on."""
        prompt_len = enc["input_ids"].shape[1]
        with self.mogu.routed(self.model, recorder):
            first = self.model.generate(
                **enc, max_new_tokens=min(self.routed_tokens, params.max_new_tokens), **decoding
            )
        new = first[:, prompt_len:]
        ended = torch.zeros(new.shape[0], dtype=torch.bool, device=new.device)
        for e in self.eos_ids:
            ended |= (new == e).any(1)
        self._gates = self._mean_gates(recorder.steps(), new)
        left = params.max_new_tokens - new.shape[1]
        if left <= 0 or bool(ended.all()):
            return first
        # The plain model continues the rows still open, reading prompt and routed tokens afresh.
        alive = (~ended).nonzero().squeeze(1)
        mask = torch.cat([enc["attention_mask"], torch.ones_like(new)], dim=1)
        second = self.model.generate(
            input_ids=first[alive],
            attention_mask=mask[alive],
            max_new_tokens=left,
            stopping_criteria=criteria,
            **decoding,
        )
        for check in criteria or []:  # early stop saw only the open rows: give its flags the batch's shape
            if getattr(check, "stopped", None) is not None and len(check.stopped) == len(alive):
                full = torch.zeros(first.shape[0], dtype=torch.bool, device=check.stopped.device)
                full[alive] = check.stopped
                check.stopped = full
        out = torch.full(
            (first.shape[0], second.shape[1]), self.tokenizer.pad_token_id, dtype=first.dtype, device=first.device
        )
        out[:, : first.shape[1]] = first
        out[alive] = second
        return out

    def _cache(self, enc, params, criteria, decoding, recorder: GateRecorder) -> torch.Tensor:
        """One call: pass k chooses answer token k + 1, so routing the first m passes routes the prompt and
        the choices of the first m tokens; the plain model reads token m onwards over the routed cache."""
        with self.mogu.routed(self.model, recorder, passes=self.routed_tokens):
            seqs = self.model.generate(
                **enc, max_new_tokens=params.max_new_tokens, stopping_criteria=criteria, **decoding
            )
        self._gates = self._mean_gates(recorder.steps(), seqs[:, enc["input_ids"].shape[1] :])
        return seqs

    def _shared(self, enc, params, criteria, decoding, recorder: GateRecorder) -> torch.Tensor:
        """One plain pass over the prompt but its last token, whose cache both the routed tokens and the
        plain continuation build on (a copy each)."""
        ids, mask = enc["input_ids"], enc["attention_mask"]
        prompt_len = ids.shape[1]
        head = self.model.generate(
            input_ids=ids[:, :-1],
            attention_mask=mask[:, :-1],
            max_new_tokens=1,
            return_dict_in_generate=True,
            **decoding,
        )  # the token it picks is dropped: only its cache of the prompt's first prompt_len - 1 positions is kept
        prefix = head.get("cache", head.get("past_key_values"))
        plain_prefix = copy.deepcopy(prefix)
        with self.mogu.routed(self.model, recorder):
            first = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=min(self.routed_tokens, params.max_new_tokens),
                **{CACHE_KEYWORD: prefix},
                **decoding,
            )
        new = first[:, prompt_len:]
        self._gates = self._mean_gates(recorder.steps(), new)
        left = params.max_new_tokens - new.shape[1]
        if left <= 0:
            return first
        # rows that ended among the routed tokens run on too; the answer is cut at its first end-of-turn
        return self.model.generate(
            input_ids=first,
            attention_mask=torch.cat([mask, torch.ones_like(new)], dim=1),
            max_new_tokens=left,
            stopping_criteria=criteria,
            **{CACHE_KEYWORD: plain_prefix},
            **decoding,
        )

    def _mean_gates(self, steps: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """Per row, the gates averaged over the passes that chose its routed tokens, up to its end-of-turn."""
        n = steps.shape[1]
        valid = torch.ones(new.shape[0], n, dtype=torch.bool)
        for row in range(new.shape[0]):
            for j, t in enumerate(new[row, :n].tolist()):
                if t in self.eos_ids:
                    valid[row, j + 1 :] = False
                    break
        w = valid.float().unsqueeze(-1).unsqueeze(-1)
        return (steps * w).sum(1) / w.sum(1).clamp(min=1)  # [batch, layers, 2]

    @torch.no_grad()
    def _generate_batch(self, ids, rendered, params, should_stop, stop_every):
        responses = super()._generate_batch(ids, rendered, params, should_stop, stop_every)
        for r, g in zip(responses, self._gates):
            r.extra = {
                "mogu": {
                    "alpha": [round(float(v), 4) for v in g[:, 0]],
                    "beta": [round(float(v), 4) for v in g[:, 1]],
                    "routed_tokens": min(self.routed_tokens, params.max_new_tokens),
                }
            }
        self._gates = None
        return responses

    @torch.no_grad()
    def next_token_logits(self, prompts, system_prompt: str | None = None, batch_size: int = 16) -> torch.Tensor:
        """The routed model's first-answer-token logits (the first token is always routed)."""
        with self.mogu.routed(self.model):
            return super().next_token_logits(prompts, system_prompt=system_prompt, batch_size=batch_size)


def mogu_target(target, folder: str | Path | None):
    """Wrap ``target`` with the MoGU in ``folder`` (``None`` returns it unchanged)."""
    return target if not folder else MoGUTarget(target, folder)


# --- reading the gates back -------------------------------------------------------------------
def _gated_rows(rows: Sequence[dict]) -> list[dict]:
    return [r for r in rows if (r.get("extra") or {}).get("mogu")]


def gate_summary(rows: Sequence[dict]) -> dict:
    """From a run's rows: mean alpha and beta per layer for harmful and benign prompts; the AUROC of
    ``alpha - beta`` (averaged over layers) between harmful and benign prompts; and how often the
    route (alpha > beta: harmful) agrees with the verdict (refused), over scored rows."""
    from sklearn.metrics import roc_auc_score

    gated = _gated_rows(rows)
    out: dict = {"n_rows": len(gated)}
    if not gated:
        return out
    layers: dict = {}
    for label in ("harmful", "benign"):
        part = [r["extra"]["mogu"] for r in gated if r["prompt_label"] == label]
        if part:
            layers[label] = {
                g: [round(float(v), 4) for v in torch.tensor([p[g] for p in part]).mean(0)] for g in ("alpha", "beta")
            }
    out["by_layer"] = layers
    margin = [
        float(torch.tensor(r["extra"]["mogu"]["alpha"]).mean() - torch.tensor(r["extra"]["mogu"]["beta"]).mean())
        for r in gated
    ]
    y = [int(r["prompt_label"] == "harmful") for r in gated]
    out["auroc_alpha_minus_beta"] = round(float(roc_auc_score(y, margin)), 4) if len(set(y)) == 2 else None
    out["routed_harmful"] = {
        label: round(
            sum(m > 0 for m, r in zip(margin, gated) if r["prompt_label"] == label)
            / max(1, y.count(label == "harmful")),
            4,
        )
        for label in ("harmful", "benign")
    }
    scored = [(m, r) for m, r in zip(margin, gated) if r["verdict"] != "unscored"]
    agree = [(m > 0) == (r["verdict"] in ("full_refusal", "partial_refusal")) for m, r in scored]
    out["route_agrees_with_verdict"] = round(sum(agree) / len(agree), 4) if agree else None
    out["n_scored"] = len(agree)
    return out


def gate_figure(summary: dict, title: str = "MoGU gates by layer"):
    """Mean alpha (unwilling) and beta (glad) per layer, harmful vs benign prompts."""
    import plotly.graph_objects as go

    fig = go.Figure()
    styles = {"harmful": "#c0392b", "benign": "#2471a3"}
    for label, gates in summary.get("by_layer", {}).items():
        for gate, dash in (("alpha", "solid"), ("beta", "dot")):
            fig.add_scatter(
                x=list(range(len(gates[gate]))),
                y=gates[gate],
                mode="lines+markers",
                name=f"{label}: {gate} ({'unwilling' if gate == 'alpha' else 'glad'})",
                line=dict(color=styles[label], dash=dash),
            )
    fig.update_layout(
        title=title,
        xaxis_title="layer",
        yaxis_title="mean gate over routed tokens",
        yaxis_range=[-0.02, 1.02],
        height=460,
    )
    return fig


def gate_page(rows: Sequence[dict], path: str | Path, title: str = "MoGU gates") -> dict:
    """Write the gate plot and summary of a run's rows to ``path`` (HTML); returns the summary."""
    from ..report import Figures, json_block, write_page

    summary = gate_summary(rows)
    body = (
        f"<h1>{title}</h1><p>Per layer, the mean gate over the positions that chose each answer's routed tokens; "
        "alpha weighs the unwilling responder, beta the glad one. A prompt is routed harmful when its alpha, averaged "
        "over layers, exceeds its beta.</p>"
        + Figures()(gate_figure(summary))
        + json_block({k: v for k, v in summary.items() if k != "by_layer"})
    )
    write_page(path, title, body)
    return summary
