"""shi2016: Shi, Padhi & Knight (2016), "Does String-Based Neural MT Learn Source Syntax?" —
an encoder's states predict sentence-level syntax (voice, tense) and word-level syntax far
above the majority class, and better than the same network untrained.

Here the encoder is hyplib's word-level LSTM language model trained on UD English-EWT train,
and the control is the same network at its initialisation. Both are probed in one pass over
EWT train + dev: a sentence's label is read from the state after its last token, a word's
label from the state at the word's last token.
"""
from __future__ import annotations

import datasets
from hyplib_zoo.ud import ud_english_ewt
from hyplib_zoo.wordlm import describe, study_model, untrained

from hyplib import catalog, inspect, shuffled_labels
from hyplib.study import Claim, Context, Outcome, Study, difference, heatmap, one_thread

TARGETS = {"voice": "parse.sentence.voice", "tense": "parse.sentence.tense",
           "deprel": "parse.deprel", "depth_bin": "parse.depth_bin"}
MARGIN = {"voice": 0.05, "tense": 0.05, "deprel": 0.2, "depth_bin": 0.2}  # over the majority
LEARNED = 0.02  # the trained encoder beats its initialisation by this much balanced accuracy
LAYERS = ("lstm.0", "lstm.1")
CLAIM_LAYER = "lstm.1"  # the encoder's top layer
POOL = "last"  # a sentence: its final state; a word: the state at its last token
# keep every held-out sentence (3,017 of 14,545) and 20,000 held-out words
PROBE = {"test_size": 20_000}
QUICK_RECORDS = 300
RUNTIME = ("full: about 4 min on 2 busy CPU cores once the word LM is cached (training it: "
           "about 35 min, once, shared with belinkov2017); quick: about 15 s")


def _data(quick: bool) -> datasets.Dataset:
    if quick:
        return ud_english_ewt("dev")
    return datasets.concatenate_datasets([ud_english_ewt("train"), ud_english_ewt("dev")])


def _run(ctx: Context) -> Outcome:
    with one_thread():
        trained, cfg = study_model(ctx)
        data = _data(ctx.quick)
        hyps = {short: catalog().get("hypotheses", name) for short, name in TARGETS.items()}
        if ctx.control == "shuffled":  # the negative control: labels moved between sentences
            hyps = {short: shuffled_labels(h, data, ctx.seed, "sent_id")
                    for short, h in hyps.items()}
        result = inspect([trained, untrained(trained, cfg)], data,
                         list(hyps.values()), inspectors=["probe"], layers=list(LAYERS),
                         inspector_args={"probe": PROBE}, pool=POOL, device=ctx.device,
                         seed=ctx.seed, max_records=QUICK_RECORDS if ctx.quick else None,
                         progress=ctx.progress)
    table = result.table
    groups = (table[table["unit_name"].str.endswith("[all]")]
              .assign(target=lambda t: t["hypothesis"].map({h.name: k
                                                             for k, h in hyps.items()})))
    acc = groups[groups["metric"] == "accuracy"].pivot(index=["model", "layer"],
                                                       columns="target", values="score")
    majority = groups[groups["metric"] == "majority"].groupby("target")["score"].first()
    acc, majority = acc[list(TARGETS)], majority[list(TARGETS)]
    mine, control = acc.loc[(trained.name, CLAIM_LAYER)], acc.loc[("untrained", CLAIM_LAYER)]
    top = groups[groups["layer"] == CLAIM_LAYER].set_index(["metric", "model", "target"])
    figures, intervals = {}, {}
    for short in TARGETS:
        figures.update({f"accuracy.{short}": mine[short],
                        f"accuracy_untrained.{short}": control[short],
                        f"majority.{short}": majority[short],
                        f"above_majority.{short}": mine[short] - majority[short],
                        f"accuracy_gain.{short}": mine[short] - control[short]})
        ends = {(metric, m): (top.loc[(metric, m, short), "ci_low"],
                              top.loc[(metric, m, short), "ci_high"])
                for metric in ("accuracy", "balanced_accuracy") for m in (trained.name,
                                                                          "untrained")}
        f1, f1_base = (top.loc[("macro_f1", m, short), "score"] for m in (trained.name,
                                                                          "untrained"))
        bal, bal_base = (top.loc[("balanced_accuracy", m, short), "score"]
                         for m in (trained.name, "untrained"))
        figures |= {f"macro_f1.{short}": f1, f"macro_f1_untrained.{short}": f1_base,
                    f"balanced_accuracy.{short}": bal,
                    f"balanced_accuracy_untrained.{short}": bal_base,
                    f"learned_gain.{short}": bal - bal_base}
        intervals |= {
            f"accuracy.{short}": ends[("accuracy", trained.name)],
            f"above_majority.{short}": tuple(e - majority[short]
                                             for e in ends[("accuracy", trained.name)]),
            f"accuracy_gain.{short}": difference(ends[("accuracy", trained.name)],
                                                 ends[("accuracy", "untrained")],
                                                 figures[f"accuracy_gain.{short}"]),
            f"learned_gain.{short}": difference(ends[("balanced_accuracy", trained.name)],
                                                ends[("balanced_accuracy", "untrained")],
                                                bal - bal_base)}
    shown = acc.set_axis([f"{m} {layer}" for m, layer in acc.index])
    shown.loc["majority"] = majority
    files = [heatmap(shown, ctx.out / "probe_accuracy.png",
                     "held-out probe accuracy: trained LM vs untrained, by layer")]
    frame = shown.rename_axis("model layer").reset_index()
    data = "dev" if ctx.quick else "train + dev"
    dev = list(ud_english_ewt("dev")["text"][:QUICK_RECORDS if ctx.quick else None])
    notes = [describe(trained, cfg, ctx, dev),
             f"{result.meta['records']} EWT sentences ({data}), {result.meta['symbols']['word']} "
             f"words, inspected (probes fitted) in {result.meta['seconds']:.0f} s on "
             f"{result.meta['device']}; pool={POOL!r}"]
    return Outcome({k: float(v) for k, v in figures.items()},
                   {"scores": table, "accuracy": frame}, files, notes, frame.round(3),
                   intervals=intervals)


SAID = {"voice": "the encoder's final state predicts the sentence's voice",
        "tense": "the encoder's final state predicts the sentence's tense",
        "deprel": "the encoder's word states predict the word's dependency relation",
        "depth_bin": "the encoder's word states predict the word's depth in the tree"}
PUBLISHED = {"voice": "Table 2 (sentence labels: voice)", "tense": "Table 2 (sentence "
             "labels: tense)", "deprel": "Table 4 (word labels)",
             "depth_bin": "Table 4 (word labels)"}


def _claims(extra: bool = False) -> tuple[Claim, ...]:
    """The claims: the label is learned (balanced accuracy, the mean recall over classes,
    above the same network untrained); ``extra``: our checks on accuracy above the majority
    class."""
    if extra:
        return tuple(Claim(f"{short}.above_majority", f"{statement}, far above the majority "
                           "class (accuracy)", f"above_majority.{short}", ">=", MARGIN[short])
                     for short, statement in SAID.items())
    return tuple(Claim(short, f"{statement}: learned, the same network untrained does worse "
                       "(balanced accuracy, blind to the majority class)",
                       f"learned_gain.{short}", ">=", LEARNED, PUBLISHED[short])
                 for short, statement in SAID.items())


SHI2016 = Study(
    name="shi2016",
    title="Does String-Based Neural MT Learn Source Syntax? (Shi, Padhi & Knight, 2016)",
    reference="X. Shi, I. Padhi, K. Knight. Does String-Based Neural MT Learn Source Syntax? "
              "EMNLP 2016, pp. 1526-1534.",
    summary="Shi et al. train logistic regressions on the encoder states of neural MT systems "
            "and find that they predict sentence-level syntactic labels (voice, tense, the "
            "top-level constituent sequence) and word-level ones (POS, phrase labels) well "
            "above the majority class, and better than an untrained encoder. Here: hyplib's "
            "probe reads voice, tense, the dependency relation and a binned tree depth from "
            "both LSTM layers of a word LSTM language model trained on EWT, and from the same "
            "network untrained; the claims are judged on the top layer.",
    run=_run,
    claims=_claims(),
    checks=_claims(extra=True),
    controls=("untrained", "shuffled"),
    paper="the word LM at 2 × 500 units over embeddings of 500, 20 epochs, on a GPU",
    deviations=(
        "Objective: a word-level LSTM language model trained on EWT train, not an NMT "
        "encoder trained on English-French/German parallel text; unidirectional, 2 layers of "
        "256 units (hyplib_zoo.wordlm).",
        "Control (ours, as in karpathy2015 and luigi-fsm): the same network at its seeded "
        "initialisation (the recipe's, before training), with the trained model's vocabulary; "
        "the .learned claims compare with it.",
        "Data: EWT train + dev (14,545 sentences), because sentence-level probes on dev alone "
        "would have about 400 held-out sentences; the LM was trained on the train part. The "
        "probe holds out a seeded 20% of symbols (sentences for voice and tense, words for "
        "the others) and keeps every held-out sentence and 20,000 held-out words.",
        "Labels from gold UD trees: voice (passive if any nsubj:pass, csubj:pass or aux:pass), "
        "tense of the root clause (past/present/other), the universal relation (37 classes) "
        "and the depth binned as 0, 1, 2, 3+; not the paper's PTB-constituency labels "
        "(top-level sequence, POS, smallest phrase constituent).",
        "Behaviour: a sentence's is the state after its last token (the paper uses the "
        "encoder's final state), a word's the state at its last token (pool='last'); claims "
        "on the top layer lstm.1, lstm.0 reported alongside.",
        "Claims: the probe's balanced accuracy (the mean recall over classes: 1/classes for "
        "a majority-class probe and at chance however often a probe predicts each class; "
        "the paper reports accuracy against the majority class) at least 0.02 above the "
        "untrained network's, judged on the 95% interval of the difference (jackknife "
        "intervals in quadrature). First macro-F1, which a probe of shuffled voice labels "
        "raised by 0.05 [0.03, 0.07] over the untrained net's by predicting the rare class "
        "more often. Checks (ours): accuracy at least 0.05 above "
        "the majority class for the sentence labels and 0.2 for the word labels.",
        "Negative controls: --control untrained (the LM at a random initialisation) and "
        "--control shuffled (every label permuted between sentences, seeded: "
        "hyplib.shuffled_labels; a sentence takes another's voice and tense); every claim "
        "must fail on both.",
        "A sentence's state is the LM's after its last token, which the LM never had to "
        "predict from (no end-of-sentence token): the sentence-level claims read a state the "
        "training objective never shaped; the paper's encoder had to summarise the sentence.",
    ),
    runtime=RUNTIME,
)
