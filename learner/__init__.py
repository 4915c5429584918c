"""The time-aware learner behind model.py: learner/pipeline.py lists its stages."""
import autodl_format.frameworks  # noqa: F401  first: torch and TensorFlow in a safe order, whatever came before
