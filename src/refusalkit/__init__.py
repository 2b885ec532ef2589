"""refusalkit: measure, explain and fix over-refusal in safety-aligned language models."""

from .errors import CapabilityError, RefusalkitError
from .types import GenParams, Prompt, Response, Verdict

__version__ = "0.1.0"
__all__ = ["CapabilityError", "GenParams", "Prompt", "RefusalkitError", "Response", "Verdict", "__version__"]
