"""The face for study authors: claims and studies, their context and outcome, the intervals
claims are judged on, the figures a report draws, and the checkpoint helper that every "load the
model or train it" uses.

A pack's studies import from here and from :mod:`hyplib`; nothing else of the core.
"""
from .checkpoints import checkpoint
from .figures import coloured_text, figure, grouped_bars, heatmap, mask_overlays, save_png
from .intervals import (
                        bootstrap,
                        difference,
                        mean_interval,
                        paired_difference,
                        percentile,
                        resampled_sums,
                        spread,
)
from .report import write as write_report
from .repro import Claim, Context, Outcome, Study, StudyError, judge, one_thread, run_study

__all__ = ["Claim", "Context", "Outcome", "Study", "StudyError", "bootstrap", "checkpoint",
           "coloured_text", "difference", "figure", "grouped_bars", "heatmap", "judge",
           "mask_overlays", "mean_interval", "one_thread", "paired_difference", "percentile",
           "resampled_sums", "run_study", "save_png", "spread", "write_report"]
