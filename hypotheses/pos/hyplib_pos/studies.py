"""belinkov2017: Belinkov, Durrani, Dalvi, Sajjad & Glass (2017), "What do Neural Machine
Translation Models Learn about Morphology?" — part of speech is read out better from the first
recurrent layer than from the word embeddings, and not better from the layer above.

Here the recurrent network is hyplib's word-level LSTM language model trained on UD
English-EWT train; a multinomial probe predicts the gold UPOS tag of each word of EWT dev from
the embeddings (``embed``) and from each LSTM layer, on held-out words.
"""
from __future__ import annotations

from hyplib_zoo.ud import ud_english_ewt
from hyplib_zoo.wordlm import describe, study_model

from hyplib import catalog, inspect, shuffled_labels
from hyplib.study import Claim, Context, Outcome, Study, difference, heatmap, one_thread

LAYERS = ("embed", "lstm.0", "lstm.1")
POOL = "last"  # a word's behaviour: the state at its last token, after reading all of it
QUICK_RECORDS = 300
RUNTIME = ("full: about 26 s on 2 busy CPU cores once the word LM is cached (training it: "
           "about 35 min, once, shared with shi2016); quick: about 10 s")


BAND = (-0.04, 0.01)  # layer 2 minus layer 1: no better, at most a small dip
FAR = 0.3  # above the majority class: POS is there to compare (the check's margin)


def _run(ctx: Context) -> Outcome:
    with one_thread():
        lm, cfg = study_model(ctx)
        dev = ud_english_ewt("dev")
        upos = "pos.upos"
        if ctx.control == "shuffled":  # the negative control: UPOS tags moved between sentences
            upos = shuffled_labels(catalog().get("hypotheses", upos), dev, ctx.seed, "sent_id")
        result = inspect(lm, dev, [upos], inspectors=["probe"],
                         layers=list(LAYERS), pool=POOL, device=ctx.device, seed=ctx.seed,
                         max_records=QUICK_RECORDS if ctx.quick else None,
                         progress=ctx.progress)
    table = result.table
    groups = table[table["unit_name"].str.endswith("[all]")]
    scores = groups.pivot(index="metric", columns="layer", values="score")[list(LAYERS)]
    acc, majority = scores.loc["accuracy"], float(scores.loc["majority"].iloc[0])
    ends = groups[groups["metric"] == "accuracy"].set_index("layer")[["ci_low", "ci_high"]]
    figures = {f"accuracy.{layer}": float(acc[layer]) for layer in LAYERS}
    intervals = {f"accuracy.{layer}": tuple(ends.loc[layer]) for layer in LAYERS}
    figures.update({"majority": majority,
                    "gain.lstm.0_over_embed": float(acc["lstm.0"] - acc["embed"]),
                    "gain.lstm.1_over_lstm.0": float(acc["lstm.1"] - acc["lstm.0"]),
                    "min_margin_over_majority": float(acc.min() - majority)})
    for gain, (upper, lower) in (("gain.lstm.0_over_embed", ("lstm.0", "embed")),
                                 ("gain.lstm.1_over_lstm.0", ("lstm.1", "lstm.0"))):
        intervals[gain] = difference(intervals[f"accuracy.{upper}"],
                                     intervals[f"accuracy.{lower}"], figures[gain])
    # the band is judged only where layer 1 reads POS at all (no labels: no dip, no claim)
    present = ends.loc["lstm.0", "ci_low"] - majority >= FAR
    figures["layer2_dip"] = figures["gain.lstm.1_over_lstm.0"] if present else float("nan")
    intervals["layer2_dip"] = intervals["gain.lstm.1_over_lstm.0"]
    worst = acc.idxmin()
    intervals["min_margin_over_majority"] = (ends.loc[worst, "ci_low"] - majority,
                                             ends.loc[worst, "ci_high"] - majority)
    shown = scores.loc[["accuracy", "macro_f1", "majority"]]
    files = [heatmap(shown, ctx.out / "probe_accuracy.png",
                     "pos.upos: held-out probe scores per layer (word LSTM LM)")]
    summary = (groups[groups["metric"].isin(["accuracy", "macro_f1"])]
               [["layer", "metric", "score", "ci_low", "ci_high", "n"]]
               .sort_values(["metric", "layer"]).round(4))
    return Outcome(figures, {"scores": table, "probe": summary}, files,
                   [describe(lm, cfg, ctx, list(dev["text"][:QUICK_RECORDS if ctx.quick
                                                            else None])),
                    f"{result.meta['records']} EWT dev sentences, {result.meta['symbols']['word']} "
                    f"words inspected (probes fitted) in {result.meta['seconds']:.0f} s on "
                    f"{result.meta['device']}; pool={POOL!r}"], summary, intervals=intervals)


BELINKOV2017 = Study(
    name="belinkov2017",
    title="What do Neural Machine Translation Models Learn about Morphology? "
          "(Belinkov et al., 2017): POS by layer",
    reference="Y. Belinkov, N. Durrani, F. Dalvi, H. Sajjad, J. Glass. What do Neural Machine "
              "Translation Models Learn about Morphology? ACL 2017, pp. 861-872.",
    summary="Belinkov et al. train a classifier to predict part-of-speech tags from the "
            "representations of an NMT encoder and find that the first LSTM layer beats the "
            "word embeddings, while the second layer is no better than the first. Here: "
            "hyplib's probe (multinomial logistic regression, 20% of words held out) predicts "
            "gold UPOS (pos.upos) on EWT dev from the embeddings and both LSTM layers of a "
            "word-level LSTM language model trained on EWT train.",
    run=_run,
    controls=("untrained", "shuffled"),
    paper="the word LM at 2 × 500 units over embeddings of 500, 20 epochs, on a GPU",
    claims=(
        Claim("layer1_over_embeddings", "POS is predicted better from the first recurrent "
              "layer than from the word embeddings", "gain.lstm.0_over_embed", ">=", 0.01,
              "layer 1 > layer 0 for every source language (Fig. 5)"),
        Claim("layer2_dip", "POS is not predicted better from the second layer: at most a "
              f"small dip ({BAND[0]:g} to {BAND[1]:g} accuracy), where the first layer "
              f"predicts POS at least {FAR:g} above the majority class", "layer2_dip",
              "within", BAND[0], "layer 2 slightly below layer 1 for POS (Fig. 5)",
              upper=BAND[1]),
    ),
    checks=(
        Claim("far_above_majority", "every layer predicts POS far above the majority class",
              "min_margin_over_majority", ">=", FAR),
    ),
    deviations=(
        "Objective: a word-level LSTM language model (next-word prediction), not an NMT "
        "encoder; its LSTM is unidirectional, so a word's state has read only its left "
        "context.",
        "Corpus and language: UD English-EWT (LM trained on train, probed on dev), not the "
        "paper's TED-talk MT corpora in Arabic, Hebrew, German, French and Czech; English is "
        "not morphologically rich, so this tests the layer ordering for POS only.",
        "Model: 2 LSTM layers of 256 units over 128-dimensional embeddings of lower-cased "
        "words seen at least twice (hyplib_zoo.wordlm); 5 epochs.",
        "Classifier: hyplib's probe (elastic-net multinomial logistic regression on "
        "standardised units, 20% of words held out by a seeded hash) instead of the paper's "
        "one-hidden-layer network trained on a separate tagged corpus.",
        "Alignment: a UD word's behaviour is the state at the last model token covering it "
        "(pool='last'); the model's tokenizer matches UD's words for nearly all words.",
        "Thresholds (fixed before running): a gain of at least 0.01 accuracy for layer 1 over "
        "the embeddings; layer 2 minus layer 1 inside the band [-0.04, 0.01] (no better, and "
        "a dip, not a collapse); each judged on its 95% interval (the probes' Wilson "
        "intervals, combined in quadrature for a difference). The band is judged only where "
        "layer 1's accuracy is at least 0.3 above the majority class (its interval's lower "
        "end; else not applicable): with no POS to read, as on shuffled labels, 'no better' "
        "holds trivially. The check that every layer is at least 0.3 above the majority "
        "class is ours, not the paper's.",
        "Negative controls: --control untrained (the LM at a random initialisation) and "
        "--control shuffled (the UPOS tags permuted between sentences, seeded: "
        "hyplib.shuffled_labels); every claim must fail on both.",
    ),
    runtime=RUNTIME,
)
