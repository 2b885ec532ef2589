"""Training: refusalkit's safety alignment (LoRA SFT) and the over-refusal mitigations.

Importing this package registers the ``smollm2-135m-aligned`` alias (cheap; nothing trains until the
alias is loaded).
"""
from . import aligned as _aligned  # noqa: F401  (registers the alias)
