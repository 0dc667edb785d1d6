"""megallm: point AI coding agents at the MegaLLM gateway, safely and reversibly."""

__version__ = "0.1.0"
