"""dalvi2019: Dalvi, Durrani, Sajjad, Belinkov, Bau & Glass (2019), "What Is One Grain of Sand
in the Desert? Analyzing Individual Neurons in Deep NLP Models" — an elastic-net probe ranks
neurons for a linguistic property; a small top set carries most of it, far more than as many
random neurons, and ablating the top neurons in the model hurts it more than ablating random or
bottom-ranked ones.

Here: hyplib's probe ranks the units of the word LSTM LM's upper layer for gold UPOS on EWT dev
(NeuroX's ordering); the probe trained on all units is evaluated with only the top, random or
bottom 10% of units' weights kept (the paper's classifier masking), the probe is retrained on
the top and on random 10%, and then the model itself runs with
those units ablated (:func:`hyplib.intervene.ablate`, their hidden state held at its mean over
the data at every step: a mean ablation, which unlike holding it at 0 does not measure the
units' activation magnitude) while its next-word loss on EWT dev is measured. Random sets are
drawn from the units outside the top set.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hyplib_zoo.ud import ud_english_ewt
from hyplib_zoo.wordlm import describe, sentence_losses, study_model
from matplotlib.figure import Figure

from hyplib import ablate, catalog, inspect, shuffled_labels, unit_means
from hyplib.study import (
    Claim,
    Context,
    Outcome,
    Study,
    difference,
    one_thread,
    percentile,
    resampled_sums,
    save_png,
)

LAYER = "lstm.1"
FRACTION = 0.1  # the top set: 10% of the layer's units
RANDOM_DRAWS = 10
# a loss difference worth a claim (1% of perplexity); on the untrained control top and bottom
# differ by 0.0004 nats (95% interval [0.0002, 0.0006]), so "> 0" held there
MEANINGFUL = 0.01
QUICK_RECORDS = 300
RUNTIME = ("full: about 2 min on 2 busy CPU cores once the word LM is cached (training it: "
           "about 35 min, once, shared with belinkov2017 and shi2016); quick: about 20 s")


def _run(ctx: Context) -> Outcome:
    data = ud_english_ewt("dev", max_sentences=QUICK_RECORDS if ctx.quick else None)
    with one_thread():
        lm, cfg = study_model(ctx)
        k = max(1, round(FRACTION * cfg.hidden))
        upos = "pos.upos"
        if ctx.control == "shuffled":  # the negative control: UPOS tags moved between sentences
            upos = shuffled_labels(catalog().get("hypotheses", upos), data, ctx.seed, "sent_id")
        result = inspect(lm, data, [upos], ["probe"], [LAYER], pool="last",
                         inspector_args={"probe": {"k": k}}, device="cpu", seed=ctx.seed,
                         progress=ctx.progress)
        table = result.table
        groups = table[table["unit"] < 0].set_index("metric")
        acc, ends = groups["score"], groups[["ci_low", "ci_high"]]
        order = (table[(table["metric"] == "rank") & (table["unit"] >= 0)]
                 .sort_values("score")["unit"].to_numpy())
        rng = np.random.default_rng(ctx.seed)
        rest = np.setdiff1d(np.arange(cfg.hidden), order[:k])  # random sets avoid the top
        sets = {"top": order[:k], "bottom": order[-k:],
                **{f"random{i + 1}": rng.choice(rest, k, replace=False)
                   for i in range(RANDOM_DRAWS)}}
        texts = data["text"]
        means = unit_means(lm, texts, {LAYER: list(range(cfg.hidden))}, "cpu")[LAYER]
        totals, counts = sentence_losses(lm, texts)
        columns = {"intact": totals}
        for name, units in sets.items():
            units = sorted(int(u) for u in units)
            with ablate(lm, {LAYER: units}, {LAYER: [means[u] for u in units]}):
                columns[name] = sentence_losses(lm, texts)[0]
    names = list(columns)
    loss = {n: float(columns[n].sum() / counts.sum()) for n in names}
    rise = {n: loss[n] - loss["intact"] for n in sets}
    random_rise = np.array([rise[f"random{i + 1}"] for i in range(RANDOM_DRAWS)])
    figures = {"accuracy.all": acc["accuracy"], "accuracy.top": acc[f"accuracy_top{k}"],
               "accuracy.random": acc[f"accuracy_random{k}"], "majority": acc["majority"],
               **{f"masked.{part}": acc[f"masked_{part}{k}"]
                  for part in ("top", "random", "bottom")},
               "k": float(k), "loss.intact": loss["intact"],
               **{f"loss_rise.{n}": float(v) for n, v in rise.items() if not n[-1].isdigit()},
               "loss_rise.random_mean": float(random_rise.mean()),
               "loss_rise.random_max": float(random_rise.max())}
    majority = figures["majority"]
    figures["top_share_above_majority"] = ((figures["accuracy.top"] - majority)
                                           / (figures["accuracy.all"] - majority))
    figures["masking_top_minus_random"] = figures["masked.top"] - figures["masked.random"]
    figures["masking_random_minus_bottom"] = figures["masked.random"] - figures["masked.bottom"]
    figures["top_minus_random_accuracy"] = figures["accuracy.top"] - figures["accuracy.random"]
    # a ratio only where the random sets raise the loss at all
    figures["ablation_top_over_random"] = (rise["top"] / float(random_rise.mean())
                                           if random_rise.mean() > 0 else math.nan)
    figures["ablation_top_minus_bottom"] = rise["top"] - rise["bottom"]
    top_ends, all_ends = tuple(ends.loc[f"accuracy_top{k}"]), tuple(ends.loc["accuracy"])
    masked_ends = {part: tuple(ends.loc[f"masked_{part}{k}"])
                   for part in ("top", "random", "bottom")}
    # sentences resampled: every set's loss on the same resample (columns: counts, then sets)
    sums = resampled_sums(np.column_stack([counts] + [columns[n] for n in names]), seed=ctx.seed)
    boot = sums[:, 1:] / sums[:, :1]
    boot_rise = boot[:, 1:] - boot[:, :1]
    col = {n: i for i, n in enumerate(names[1:])}
    boot_sets = boot_rise[:, [col[f"random{i + 1}"] for i in range(RANDOM_DRAWS)]]
    boot_random = boot_sets.mean(1)
    # what the top set would show if the ranking carried nothing: one random set in its place
    # (and another in the bottom set's), a pair drawn per resample; the intervals subtract it
    draw = np.arange(len(boot_sets))
    one = rng.integers(0, RANDOM_DRAWS, len(boot_sets))
    other = (one + rng.integers(1, RANDOM_DRAWS, len(boot_sets))) % RANDOM_DRAWS
    stand_in, stand_in_2 = boot_sets[draw, one], boot_sets[draw, other]
    top_b, bottom_b = boot_rise[:, col["top"]], boot_rise[:, col["bottom"]]
    intervals = {
        "accuracy.all": all_ends, "accuracy.top": top_ends,
        "top_share_above_majority": _share_interval(top_ends, all_ends, majority),
        "masking_top_minus_random": difference(masked_ends["top"], masked_ends["random"],
                                               figures["masking_top_minus_random"]),
        "masking_random_minus_bottom": difference(masked_ends["random"], masked_ends["bottom"],
                                                  figures["masking_random_minus_bottom"]),
        "top_minus_random_accuracy": difference(top_ends,
                                                tuple(ends.loc[f"accuracy_random{k}"]),
                                                figures["top_minus_random_accuracy"]),
        # a resample whose random sets do not raise the loss counts as ratio 0 (no evidence)
        "ablation_top_over_random": percentile(np.where(
            boot_random > 0, (top_b - stand_in) / np.where(boot_random > 0, boot_random, 1) + 1,
            0.0)),
        "ablation_top_minus_bottom": percentile(top_b - bottom_b - (stand_in - stand_in_2))}
    ablation = pd.DataFrame({"units": list(sets), "indices": [" ".join(map(str, sorted(u)))
                                                              for u in sets.values()],
                             "next_word_loss": [loss[n] for n in sets],
                             "rise_over_intact": [rise[n] for n in sets]})
    files = [_bars(rise, ctx.out / "ablation.png",
                   f"next-word loss rise when {k} of {cfg.hidden} {LAYER} units are "
                   f"mean-ablated")]
    summary = pd.DataFrame({"measure": ["probe accuracy, all units",
                                        f"masked probe accuracy, top {k}",
                                        f"masked probe accuracy, random {k}",
                                        f"masked probe accuracy, bottom {k}",
                                        f"retrained probe accuracy, top {k}",
                                        f"retrained probe accuracy, random {k}",
                                        "loss rise, top ablated", "loss rise, random (mean)",
                                        "loss rise, bottom ablated"],
                            "value": [figures["accuracy.all"], figures["masked.top"],
                                      figures["masked.random"], figures["masked.bottom"],
                                      figures["accuracy.top"],
                                      figures["accuracy.random"], rise["top"],
                                      float(random_rise.mean()), rise["bottom"]]}).round(4)
    notes = [describe(lm, cfg, ctx, list(texts)),
             f"next-word loss intact {loss['intact']:.3f} nats on {len(texts)} sentences",
             f"probe on {result.meta['symbols']['word']} words of {result.meta['records']} EWT dev "
             f"sentences, pool='last'; top set by NeuroX ordering of the UPOS probe's weights"]
    return Outcome({k: float(v) for k, v in figures.items()},
                   {"scores": table, "ablation": ablation}, files, notes, summary,
                   intervals=intervals)


def _share_interval(top: tuple, full: tuple, majority: float) -> tuple[float, float]:
    """Interval of (top - majority) / (full - majority) from the two accuracies' intervals;
    unbounded where the full probe's may not beat the majority class."""
    if full[0] <= majority:
        return -math.inf, math.inf
    return ((top[0] - majority) / (full[1] - majority if top[0] > majority else
                                   full[0] - majority),
            (top[1] - majority) / (full[0] - majority if top[1] > majority else
                                   full[1] - majority))


def _bars(rise: dict[str, float], path, title: str):
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    names = list(rise)
    colours = ["tab:red" if n == "top" else "tab:blue" if n == "bottom" else "tab:gray"
               for n in names]
    ax.bar(names, [rise[n] for n in names], color=colours)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("loss rise (nats)")
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    return save_png(fig, path)


DALVI2019 = Study(
    name="dalvi2019",
    title="What Is One Grain of Sand in the Desert? (Dalvi et al., 2019): POS neurons, "
          "ranked and ablated",
    reference="F. Dalvi, N. Durrani, H. Sajjad, Y. Belinkov, A. Bau, J. Glass. What Is One "
              "Grain of Sand in the Desert? Analyzing Individual Neurons in Deep NLP Models. "
              "AAAI 2019, pp. 6309-6317.",
    summary="Dalvi et al. rank the neurons of NMT and LM encoders with an elastic-net probe "
            "(linguistic correlation analysis), show that a small top set predicts the property "
            "almost as well as all neurons and far better than random ones, and that ablating "
            "the top neurons in the network hurts it more than ablating random or bottom ones. "
            "Here: the UPOS probe over the upper layer of hyplib's word LSTM LM, its top 10% of "
            "units, and the LM's next-word loss with those units ablated.",
    run=_run,
    controls=("untrained", "shuffled"),
    paper="the word LM at 2 × 500 units over embeddings of 500, 20 epochs, on a GPU",
    claims=(
        Claim("masking.top_beats_random", "the probe trained on all neurons, with only the top "
              "10% of neurons' weights kept, predicts POS far better than with as many random "
              "neurons' weights kept", "masking_top_minus_random", ">=", 0.05,
              "classifier ablation: top > random > bottom neurons (Table 2)"),
        Claim("masking.random_beats_bottom", "... and better with random neurons' weights kept "
              "than with the bottom-ranked neurons'", "masking_random_minus_bottom", ">=", 0.01,
              "classifier ablation: top > random > bottom neurons (Table 2)"),
        Claim("top_set_suffices", "a probe retrained on the top 10% of neurons keeps most of "
              "the accuracy above the majority class of the probe on all neurons",
              "top_share_above_majority", ">=", 0.9,
              "top 10-20% of neurons retrained within a few points of all neurons (Table 3)"),
        Claim("top_beats_random", "a probe retrained on the top neurons predicts POS far "
              "better than one retrained on as many random neurons", "top_minus_random_accuracy",
              ">=", 0.05, "retrained: top > random neurons (Table 3)"),
        Claim("ablating_top_hurts_most", "ablating the top neurons hurts the model more than "
              "ablating as many random neurons", "ablation_top_over_random", ">=", 1.5,
              "top ablation drops BLEU / accuracy most (Table 4)"),
        Claim("top_over_bottom", "ablating the top neurons hurts the model more than ablating "
              f"the bottom-ranked ones, by at least {MEANINGFUL} nats of next-word loss",
              "ablation_top_minus_bottom", ">=", MEANINGFUL, "Table 4: top > bottom"),
    ),
    deviations=(
        "Model: hyplib's word-level LSTM language model trained on EWT train (2 × 256 units), "
        "not the paper's NMT encoders and ELMo-style LM; the upper layer (lstm.1) is analysed.",
        "Ablation effect is the LM's next-word loss on EWT dev (the model's own task) rather "
        "than NMT BLEU; ablated units are held at their mean over the data at every step, "
        "inside the recurrence (hyplib.intervene): the paper zeroes them, but in this LM "
        "zeroing measures activation magnitude (the loss rise tracks the set's mean h²).",
        "The probe is hyplib's elastic-net multinomial probe on standardised units with 20% of "
        "words held out, NeuroX's ordering. Classifier masking as in the paper: the probe "
        "trained on all units is evaluated on the held-out words with every weight but those "
        "of the top / one seeded random / the bottom 10% of units zeroed (a zeroed unit reads "
        "as its training mean, the inputs being standardised), not retrained; the paper masks "
        "10%, 15% and 20%, here 10% only. The retrained probes (top and one random 10%) are "
        "reported as the paper's retraining experiment. The model's ablation compares the "
        "top set with 10 seeded random sets drawn from the units outside the top set (their "
        "mean is the baseline) and with the bottom set.",
        "Thresholds (fixed before running): masked top beats masked random by >= 0.05 and "
        "masked random beats masked bottom by >= 0.01 accuracy; retrained top 10% keeps >= 90% "
        "of the full probe's accuracy above the majority class (first: of its accuracy, which "
        "a probe of shuffled labels meets by predicting the majority) and beats retrained "
        "random 10% by >= 0.05; top ablation raises the loss >= 1.5× the mean random rise and "
        "more than bottom ablation by >= 0.01 nats (first > 0, which the untrained control met "
        "by 0.0004 nats); each judged on its 95% interval (Wilson intervals of the probes, in "
        "quadrature for differences, and their ends for the share; a bootstrap over sentences "
        "for the ablations). The ablation claims' intervals also carry the random sets' "
        "spread: each resample subtracts what a random set in the top set's place (and another "
        "in the bottom set's) would show, so a ranking that carries nothing fails them (on "
        "shuffled labels top minus bottom 'held' without it); the ratio is undefined (not "
        "applicable) when the random sets do not raise the loss.",
        "Negative controls: --control untrained (the LM at a random initialisation) and "
        "--control shuffled (the UPOS tags permuted between sentences, seeded: "
        "hyplib.shuffled_labels); every claim must fail on both.",
    ),
    runtime=RUNTIME,
)
