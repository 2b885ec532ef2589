"""Training: refusalkit's safety alignment (LoRA SFT) and the over-refusal mitigations.

The ``smollm2-135m-aligned`` alias lives in :mod:`refusalkit.train.aligned`; :mod:`refusalkit.targets`
imports it when the alias is first asked for (nothing trains until the alias is loaded).
"""
