"""The time-aware fine-tuning engine behind model.py (see learner/engine.py for the schedule)."""
import autodl_format.frameworks  # noqa: F401  first: torch and TensorFlow in a safe order, whatever came before
