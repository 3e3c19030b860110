"""lakretz2019: Lakretz et al. (2019), "The emergence of number and syntax units in LSTM language
models": a word-level LSTM language model carries the subject's number to its verb in a few
units, and ablating them breaks long-range agreement, while as many random units do not matter.

The model is trained on sentences sampled from :data:`hyplib_grammar.agreement.AGREEMENT`
(deterministic: seeded corpus, initialisation and shuffles; cached by a hash of the recipe and
the corpus). Held-out sentences, sampled with another seed and not seen in training, give:

- agreement accuracy: at the word before the main verb, the model must prefer the verb over
  its other-number form (``sleeps`` vs ``sleep``), per condition: ``simple`` (no noun between
  subject and verb), ``congruent`` (nouns between, all of the subject's number) and
  ``attractor`` (a noun of the other number between: the long-range test);
- number units: every LSTM unit's correlation with ``grammar.agreement.subject_number`` (and
  with ``grammar.agreement.depth``) through ``hyplib.inspect``; the top :data:`TOP_K` by |r|;
- ablation (:func:`hyplib.intervene.ablate`, h held at 0 through the recurrence): accuracy
  with the top units ablated, and with as many random units, over :data:`DRAWS` draws; and,
  as the paper searched for them, every unit ablated alone (attractor sentences, singular and
  plural subjects apart).

Runtime on 2 busy shared CPU cores: see :data:`RUNTIME`.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import torch
from hyplib_zoo.wordlm import WordLM, WordLMConfig, WordLSTM, train, untrained
from nltk import Tree

from hyplib import ablate, behaviours, digest, pick_device, query, unit_name
from hyplib.study import (
    Claim,
    Context,
    Outcome,
    Study,
    checkpoint,
    difference,
    figure,
    heatmap,
    mean_interval,
    one_thread,
    paired_difference,
    save_png,
)

from .agreement import AGREEMENT, OTHER_FORM, corpus, dependency

RECIPE_VERSION = 1
NUMBER, DEPTH = "grammar.agreement.subject_number", "grammar.agreement.depth"
TOP_K = 4         # "a few": Lakretz et al. found 2 of 1,300 units; 4 of our 128 is 3%
DRAWS = 20        # random draws of TOP_K units
NUMBER_UNIT = 0.5  # a unit "carries number" if |r| with subject_number >= 0.5
CRITICAL = 0.05   # a unit is critical if ablating it alone costs 5 points of attractor accuracy
SINGLE_DROP = 0.25  # the paper's headline: one unit's ablation costs one number this much, at least
LEARNED = 0.1     # the trained LM's best depth unit beats the untrained one's by this much |r|
CONDITIONS = ("simple", "congruent", "attractor")
INTACT, TOP = "intact", f"top {TOP_K} number units ablated"
RANDOM = f"{TOP_K} random units ablated (mean)"
RUNTIME = ("full: 2-6 min on 2 shared CPU cores, by their load (training 45-180 s, once, then "
           "cached); quick: about 12 s of study, 20-60 s with the command's start-up")


@dataclass(frozen=True)
class LakretzConfig:
    """The recipe: the training corpus and the word LM's own recipe (whose seed also seeds the
    corpus); every field goes into the cache key."""

    sentences: int = 20000
    max_depth: int = 7
    lm: WordLMConfig = WordLMConfig(hidden=64, embed=32, epochs=8, lr=3e-3, min_count=1)


QUICK = LakretzConfig(sentences=1500,
                      lm=WordLMConfig(hidden=24, embed=16, epochs=2, lr=3e-3, min_count=1))
# the paper's LM size (2 × 650 units, embeddings of 650), on 200,000 sentences of the grammar
PAPER = LakretzConfig(sentences=200_000,
                      lm=WordLMConfig(hidden=650, embed=650, epochs=10, lr=1e-3, min_count=1))
# held-out sentences sampled (before removing seen ones)
TEST = {"paper": 6000, "full": 6000, "quick": 600}


@functools.lru_cache(maxsize=2)
def training_texts(cfg: LakretzConfig) -> tuple[str, ...]:
    """The recipe's training sentences."""
    return tuple(corpus(cfg.sentences, [cfg.lm.seed, 0], cfg.max_depth)["text"])


def load(cfg: LakretzConfig, name: str = "lakretz", progress: bool = True,
         device: str = "cpu") -> WordLM:
    """The LM trained on the recipe's corpus: from the cache, or trained now (one thread) on
    ``device`` (another kind than the CPU is cached apart)."""
    texts = list(training_texts(cfg))
    kind = torch.device(device).type

    def fresh() -> dict:
        start = time.perf_counter()
        with one_thread():
            module, vocab, record = train(texts, cfg.lm, progress, device)
        record["train_seconds"] = time.perf_counter() - start
        return {"state_dict": module.state_dict(), "vocab": vocab, "record": record,
                "config": dataclasses.asdict(cfg)}

    recipe = [RECIPE_VERSION, dataclasses.asdict(cfg), digest(texts)]
    saved, path = checkpoint("lakretz", recipe + ([kind] if kind != "cpu" else []), fresh)
    vocab, record = saved["vocab"], saved["record"]
    module = WordLSTM(len(vocab), cfg.lm)
    module.load_state_dict(saved["state_dict"])
    words = {w for p in AGREEMENT.productions() for w in p.rhs() if isinstance(w, str)}
    missing = sorted(words - set(vocab))
    if missing:
        raise ValueError(f"the training corpus lacks the words {missing}: raise sentences")
    lm = WordLM(name, module, vocab, tuple(f"lstm.{i}" for i in range(cfg.lm.layers)))
    lm.record, lm.config, lm.checkpoint = record, cfg, path
    return lm


def test_set(cfg: LakretzConfig, n: int) -> tuple[datasets.Dataset, pd.DataFrame]:
    """Held-out sentences not in the training corpus, and their main dependencies."""
    seen = set(training_texts(cfg))
    data = corpus(n, [cfg.lm.seed, 1], cfg.max_depth)
    data = data.select([i for i, t in enumerate(data["text"]) if t not in seen])
    deps = [dependency(Tree.fromstring(t)) for t in data["tree"]]
    frame = pd.DataFrame([dataclasses.asdict(d) | {"condition": d.condition} for d in deps])
    frame["verb_word"] = [w[d.verb] for w, d in zip(data["words"], deps)]
    return data, frame


@torch.inference_mode()
def agreement(model: WordLM, texts: list[str], deps: pd.DataFrame) -> np.ndarray:
    """Per sentence: does the model, before the main verb, prefer it to its other form?"""
    dev = next(model.module.parameters()).device
    logits = model.forward(model.encode(texts), dev)
    rows = torch.arange(len(texts), device=dev)
    at = torch.as_tensor(deps["verb"].to_numpy() - 1, device=dev)
    right = torch.tensor(model.ids(list(deps["verb_word"])), device=dev)
    wrong = torch.tensor(model.ids([OTHER_FORM[w] for w in deps["verb_word"]]), device=dev)
    return (logits[rows, at, right] > logits[rows, at, wrong]).cpu().numpy()


def _by_condition(right: np.ndarray, deps: pd.DataFrame) -> dict[str, float]:
    return {c: float(right[deps["condition"].to_numpy() == c].mean()) for c in CONDITIONS}


# The correlations, the top number units, agreement intact and with them ablated, and the drop
# with a paired record-bootstrap interval: one script, two passes (the ablation needs the units).
QUERY = f"""
LET scores = INSPECT lakretz AGAINST {NUMBER}, {DEPTH} OVER test SEED {{seed}};
LET top = FROM scores KEEP hypothesis = '{NUMBER}' ORDER BY |score| DESC LIMIT {TOP_K};
LET intact = EVALUATE agreement OF lakretz OVER test BY condition;
LET ablated = EVALUATE agreement OF lakretz OVER test BY condition WITH ABLATE UNITS OF top;
LET drop = DIFF intact, ablated ON hypothesis;
LET base = INSPECT UNTRAINED lakretz AGAINST {NUMBER}, {DEPTH} OVER test SEED {{seed}};
LET learned = DIFF BEST scores, base ON hypothesis;
LET by_number = EVALUATE agreement OF lakretz OVER test WHERE condition = 'attractor' BY plural
    WITH ABLATE UNITS OF top
"""


def _agreement(model: WordLM, data: datasets.Dataset) -> np.ndarray:
    """The evaluation the query runs: :func:`agreement` on records carrying their dependency."""
    return agreement(model, list(data["text"]), data.select_columns(["verb", "verb_word"])
                     .to_pandas())


def _model(cfg: LakretzConfig, ctx: Context, dev) -> WordLM:
    """The LM studied; under the negative control an untrained one (seed + 1; the query's
    UNTRAINED baseline is seed 0)."""
    model = load(cfg, progress=ctx.progress, device=str(dev))
    if ctx.control == "untrained":
        record = {"train_seconds": 0.0, "final_loss": float("nan")}
        model = untrained(model, cfg.lm, cfg.lm.seed + 1, "lakretz")
        model.record, model.config = record, cfg
    return model


def _run(ctx: Context) -> Outcome:
    cfg = {"quick": QUICK, "full": LakretzConfig(), "paper": PAPER}[ctx.scale]
    dev = pick_device(ctx.device)
    with one_thread():
        model = _model(cfg, ctx, dev)
        data, deps = test_set(cfg, TEST[ctx.scale])
        records = data
        for field in ("verb", "verb_word", "condition", "plural"):
            records = records.add_column(field, deps[field].tolist())
        results = query.run(QUERY.format(seed=ctx.seed), models={"lakretz": model},
                            data={"test": records}, evaluations={"agreement": _agreement},
                            device=dev, progress=ctx.progress)
        result = results["scores"]
        table = result.table
        r = table[table["metric"] == "r"].set_index(["hypothesis", "layer", "unit"])["score"]
        number = r.loc[NUMBER]
        top = pd.MultiIndex.from_frame(results["top"].table[["layer", "unit"]])
        texts = list(data["text"])
        random = _random_ablations(model, texts, deps, number.index.difference(top), ctx.seed)
        by = {name: results[name].table.set_index("label")["score"]
              for name in ("intact", "ablated")}
        accuracy = pd.DataFrame({INTACT: by["intact"], TOP: by["ablated"],
                                 RANDOM: random.mean()}).reindex(list(CONDITIONS))
        drop_ci = results["drop"].table.set_index("label")[["score", "ci_low", "ci_high"]]
        single = _single_unit_drops(model, data, deps, number.index)
        single_interval = _single_unit_interval(model, data, deps, single)
        files = [_bars(accuracy, random.std(), ctx.out / "agreement_accuracy.png"),
                 heatmap(_best(r), ctx.out / "best_abs_r.png", "best |r| per layer"),
                 _traces(model, data, deps, top, ctx.out / "number_units.png", dev),
                 _scatter(number.abs(), single, top, ctx.out / "single_unit_ablation.png")]
    drop = accuracy[INTACT] - accuracy[TOP]
    random_drop = accuracy.loc["attractor", INTACT] - random["attractor"]
    figures = {f"accuracy.{c}": accuracy.loc[c, INTACT] for c in CONDITIONS}
    figures |= {f"ablated_accuracy.{c}": accuracy.loc[c, TOP] for c in CONDITIONS}
    by_number = results["by_number"].table.set_index("label")["score"]
    figures |= {f"ablated_accuracy.attractor.{k}": by_number.get(str(plural), np.nan)
                for k, plural in (("singular", False), ("plural", True))}
    figures |= {
        "ablation_drop.attractor": drop["attractor"],
        "ablation_drop.simple": drop["simple"],
        "random_drop.attractor.mean": random_drop.mean(),
        "random_drop.attractor.max": random_drop.max(),
        "ablation_excess.attractor": drop["attractor"] - random_drop.mean(),
        "ablation_margin.attractor": drop["attractor"] - random_drop.max(),
        "ablation_drop.attractor.ci_low": drop_ci.loc["attractor", "ci_low"],
        "ablation_drop.attractor.ci_high": drop_ci.loc["attractor", "ci_high"],
        "single_unit.max_drop": single["max"].max(),
        "single_unit.critical": int((single["max"] >= CRITICAL).sum()),
        "single_unit.top_k_critical": int((single.loc[top, "max"] >= CRITICAL).sum()),
        "number_units.best_abs_r": float(number.abs().max()),
        "number_units.share": float((number.abs() >= NUMBER_UNIT).mean()),
        "syntax_units.best_abs_r": float(r.loc[DEPTH].abs().max()),
    }
    learned = results["learned"].table.set_index("hypothesis")
    figures["syntax_units.best_abs_r_untrained"] = learned.loc[DEPTH, "base.score"]
    figures["syntax_units.learned_gain"] = learned.loc[DEPTH, "score"]
    ends = table[table["metric"] == "r"].set_index(["hypothesis", "layer", "unit"])[
        ["ci_low", "ci_high"]]
    cis = {name: results[name].table.set_index("label")[["ci_low", "ci_high"]]
           for name in ("intact", "ablated")}
    drop_ends = tuple(drop_ci.loc["attractor", ["ci_low", "ci_high"]])
    random_ends = mean_interval(random_drop.to_numpy(), seed=ctx.seed)  # over the draws
    intervals = {
        "accuracy.attractor": tuple(cis["intact"].loc["attractor"]),
        "ablated_accuracy.simple": tuple(cis["ablated"].loc["simple"]),
        "ablation_drop.attractor": drop_ends,
        "ablation_excess.attractor": difference(drop_ends, random_ends,
                                                figures["ablation_excess.attractor"]),
        # the top set's drop against each random draw's: as wide as the drop's interval
        "ablation_margin.attractor": (drop_ends[0] - random_drop.max(),
                                      drop_ends[1] - random_drop.max()),
        "number_units.best_abs_r": _abs_interval(ends.loc[NUMBER].loc[number.abs().idxmax()]),
        # as few as the units whose whole interval passes, as many as those whose interval reaches
        "number_units.share": (float((_abs_low(ends.loc[NUMBER]) >= NUMBER_UNIT).mean()),
                               float((ends.loc[NUMBER].abs().max(axis=1) >= NUMBER_UNIT).mean())),
        "syntax_units.best_abs_r": _abs_interval(ends.loc[DEPTH].loc[r.loc[DEPTH].abs().idxmax()]),
        "syntax_units.learned_gain": tuple(learned.loc[DEPTH, ["ci_low", "ci_high"]]),
        "single_unit.max_drop": single_interval,
    }
    summary = pd.DataFrame({"unit_name": [unit_name(model.name, layer, u) for layer, u in top],
                            "r": number.loc[top].round(3).to_numpy()})
    counts = deps["condition"].value_counts()
    split = ", ".join(f"{c}: {counts.get(c, 0)}" for c in CONDITIONS)
    notes = [f"model ({ctx.scale} scale): 2 layers of {cfg.lm.hidden} units, embeddings of "
             f"{cfg.lm.embed}, {cfg.lm.epochs} epochs on {cfg.sentences:,} sentences ({cfg}); "
             + (f"trained in {model.record['train_seconds']:.0f} s, final loss "
                f"{model.record['final_loss']:.3f}" if ctx.control is None else
                f"untrained (seed {cfg.lm.seed + 1}): the negative control"),

             f"{len(data)} held-out sentences ({split}); "
             f"{result.meta['symbols']['word']} words inspected in {result.meta['seconds']:.1f} s",
             f"number units (top {TOP_K} by |r| with {NUMBER}): "
             + ", ".join(summary["unit_name"])]
    return Outcome({k: float(v) for k, v in figures.items()},
                   {"scores": table, "agreement_accuracy": accuracy.reset_index(),
                    "random_ablations": random,
                    "single_unit_ablations": single.reset_index()}, files, notes, summary,
                   intervals=intervals)


def _random_ablations(model: WordLM, texts: list[str], deps: pd.DataFrame, pool,
                      seed: int) -> pd.DataFrame:
    """Accuracy per condition with TOP_K units drawn from ``pool`` ablated, one row per draw."""
    rng, rows = np.random.default_rng(seed), []
    for _ in range(DRAWS):
        with ablate(model, _units(pool[rng.choice(len(pool), TOP_K, replace=False)])):
            rows.append(_by_condition(agreement(model, texts, deps), deps))
    return pd.DataFrame(rows)


def _single_unit_interval(model: WordLM, data, deps: pd.DataFrame,
                          single: pd.DataFrame) -> tuple[float, float]:
    """The interval of the largest single-unit drop: that unit ablated again, its drop on
    that number's attractor sentences bootstrapped (not corrected for choosing the unit)."""
    unit = single["max"].idxmax()
    plural = single.loc[unit, "plural"] >= single.loc[unit, "singular"]
    keep = np.flatnonzero((deps["condition"].to_numpy() == "attractor")
                          & (deps["plural"].to_numpy() == plural))
    texts, sub = [data["text"][i] for i in keep], deps.iloc[keep].reset_index(drop=True)
    before = agreement(model, texts, sub)
    with ablate(model, {unit[0]: [unit[1]]}):
        after = agreement(model, texts, sub)
    return paired_difference(before, after)


def _abs_low(ends: pd.DataFrame) -> pd.Series:
    """The lower end of |r| from an interval of r (0 where it straddles 0)."""
    straddles = (ends["ci_low"] < 0) & (ends["ci_high"] > 0)
    return ends.abs().min(axis=1).where(~straddles, 0.0)


def _abs_interval(ends: pd.Series) -> tuple[float, float]:
    """(low, high) of |r| from one unit's interval of r."""
    return float(_abs_low(ends.to_frame().T).iloc[0]), float(ends.abs().max())


def _attractor_by_number(right: np.ndarray, deps: pd.DataFrame) -> dict[str, float]:
    attractor = deps["condition"].to_numpy() == "attractor"
    return {name: float(right[attractor & (deps["plural"].to_numpy() == plural)].mean())
            for name, plural in (("singular", False), ("plural", True))}


def _single_unit_drops(model: WordLM, data, deps: pd.DataFrame, units) -> pd.DataFrame:
    """Each unit ablated alone (the paper's search): the drop in attractor accuracy for
    singular and plural subjects, and the larger of the two (``max``)."""
    keep = np.flatnonzero(deps["condition"].to_numpy() == "attractor")
    texts, sub = [data["text"][i] for i in keep], deps.iloc[keep].reset_index(drop=True)
    base = pd.Series(_attractor_by_number(agreement(model, texts, sub), sub))
    rows = []
    for layer, unit in units:
        with ablate(model, {layer: [unit]}):
            rows.append(base - pd.Series(_attractor_by_number(agreement(model, texts, sub),
                                                              sub)))
    frame = pd.DataFrame(rows, index=units)
    return frame.assign(max=frame.max(axis=1))


def _units(index) -> dict[str, list[int]]:
    units: dict[str, list[int]] = {}
    for layer, unit in index:
        units.setdefault(layer, []).append(int(unit))
    return units


def _best(r: pd.Series) -> pd.DataFrame:
    short = {NUMBER: "subject_number", DEPTH: "depth"}
    return (r.abs().groupby(level=["layer", "hypothesis"]).max().unstack("hypothesis")
            .rename(columns=short))


def _bars(accuracy: pd.DataFrame, spread: pd.Series, path: Path) -> Path:
    fig, ax = figure(figsize=(7, 3.6))
    width = 0.8 / accuracy.shape[1]
    for j, column in enumerate(accuracy.columns):
        err = spread.reindex(accuracy.index).to_numpy() if "random" in column else None
        ax.bar(np.arange(len(accuracy)) + j * width, accuracy[column], width, yerr=err,
               label=column, capsize=3)
    ax.set_xticks(np.arange(len(accuracy)) + width, accuracy.index)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("agreement accuracy")
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("held-out agreement by condition; ablation holds h at 0", fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)


def _scatter(abs_r: pd.Series, single: pd.DataFrame, top, path: Path) -> Path:
    fig, ax = figure(figsize=(5.5, 3.8))
    ax.scatter(abs_r, single.loc[abs_r.index, "max"], s=14, alpha=0.7)
    for j, (layer, unit) in enumerate(top):  # labels stacked: top units often overlap
        ax.annotate(f"{layer}[{unit}]", (abs_r[(layer, unit)], single.loc[(layer, unit), "max"]),
                    fontsize=7, xytext=(-40, 12 + 10 * j), textcoords="offset points",
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.5"})
    ax.axhline(CRITICAL, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(f"|r| with {NUMBER}")
    ax.set_ylabel("attractor accuracy drop\n(unit ablated alone; worse number)")
    ax.set_title("single-unit ablation against correlation", fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)


def _traces(model: WordLM, data, deps: pd.DataFrame, top, path: Path, dev) -> Path:
    """The top number units over one singular and one plural attractor sentence."""
    picks = [deps.index[(deps["condition"] == "attractor") & (deps["plural"] == p)]
             for p in (False, True)]
    picks = [int(p[np.argmax(deps.loc[p, "verb"] - deps.loc[p, "subject"])]) for p in picks
             if len(p)]
    fig, axes = figure(len(picks), 1, figsize=(8, 2.4 * len(picks)), squeeze=False)
    for ax, i in zip(axes[:, 0], picks):
        words = data[i]["words"]
        seen = behaviours(model, [data[i]["text"]], sorted({layer for layer, _ in top}), dev)
        for layer, unit in top:
            ax.plot(seen[layer][0][:, unit], marker="o", label=f"{layer}[{unit}]")
        ax.axvspan(deps.loc[i, "subject"] - 0.5, deps.loc[i, "verb"] - 0.5, color="0.9")
        ax.set_xticks(range(len(words)), words, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("h")
        ax.set_title(f"{'plural' if deps.loc[i, 'plural'] else 'singular'} subject "
                     f"(shaded: subject to the word before the verb)", fontsize=9, loc="left")
    axes[0, 0].legend(fontsize=7, ncol=len(top))
    fig.tight_layout()
    return save_png(fig, path)


LAKRETZ2019 = Study(
    name="lakretz2019",
    title="The emergence of number and syntax units in LSTM language models "
          "(Lakretz et al., 2019)",
    reference="Y. Lakretz, G. Kruszewski, T. Desbordes, D. Hupkes, S. Dehaene, M. Baroni. The "
              "emergence of number and syntax units in LSTM language models. NAACL 2019.",
    summary="An LSTM language model carries the grammatical number of the subject to its verb "
            "in very few units: ablating them makes long-range agreement across an attractor "
            "fail, while short-range agreement survives; other units track syntactic depth. "
            "Here: a 2-layer word LSTM LM trained on sentences of an NLTK agreement grammar; "
            "units are ranked by their correlation with the subject's number and ablated "
            "through the recurrence, against as many random units.",
    run=_run,
    controls=("untrained",),
    paper="2 layers of 650 units (the paper's LM size), 10 epochs on 200,000 grammar "
          "sentences, on a GPU",
    claims=(
        Claim("agreement.attractor", "the intact model gets long-range agreement across an "
              "attractor right", "accuracy.attractor", ">=", 0.9,
              "nounPP: high accuracy (Table 1)"),
        Claim("single_unit.ablation", "ablating a single unit breaks long-range agreement "
              f"for one grammatical number (drop >= {SINGLE_DROP})", "single_unit.max_drop",
              ">=", SINGLE_DROP, "units 776, 988 alone: near chance on one number (Table 1)"),
        Claim("number_units.exist", "some units carry the subject's number to the verb",
              "number_units.best_abs_r", ">=", NUMBER_UNIT, "units 776 and 988 (Fig. 2)"),
        Claim("number_units.sparse", "the number units exist and are few: at least one and at "
              "most 10% of the LSTM units reach |r| >= 0.5", "number_units.share", "within",
              1e-6, "2 of 1,300 units (Sec. 4)", upper=0.1),
        Claim("ablation.attractor", f"ablating the top {TOP_K} number units drops long-range "
              f"(attractor) accuracy far more than {TOP_K} random units (mean over {DRAWS} "
              f"draws)", "ablation_excess.attractor", ">=", 0.1,
              "to near chance in the affected condition (Table 1)"),
        Claim("ablation.simple_spared", "short-range agreement survives that ablation",
              "ablated_accuracy.simple", ">=", 0.9, "Simple task unaffected (Table 1)"),
        Claim("syntax_units.learned", "some units track syntactic depth, beyond what an "
              "untrained LM's units do", "syntax_units.learned_gain", ">=", LEARNED,
              "unit 1150 (Fig. 4); the untrained baseline is ours"),
    ),
    checks=(
        Claim("ablation.beyond_random", f"the top {TOP_K} units' drop exceeds every one of the "
              f"{DRAWS} random draws'", "ablation_margin.attractor", ">", 0.0),
    ),
    deviations=(
        "Data: sentences sampled from our NLTK PCFG (hyplib_grammar.agreement) with 8 "
        "noun pairs, 8 verb pairs, 4 prepositions, 3 adverbs, prepositional phrases and "
        "subject/object relative clauses; the paper's LM was trained on English Wikipedia and "
        "tested on the Linzen/Gulordava-style templates. Our test sentences are held-out "
        "samples of the same grammar (those seen in training removed).",
        "Model: 2 layers of 64 units, embeddings of 32, 8 epochs on 20,000 sentences (the "
        "paper: 2 layers of 650 units trained on Wikipedia).",
        f"Number units are ranked by |r| with the subject's number (+1/-1 from the subject's "
        f"noun to the word before the verb, 0 elsewhere) over all words, and the top {TOP_K} "
        f"(both layers) are ablated at once; the paper found its two units by ablating each "
        f"unit alone, which we also do: the claim single_unit.ablation is the paper's "
        f"headline (figures single_unit.*, single_unit_ablation.png).",
        "Ablation holds the unit's hidden state h at 0 at every step, through the recurrence "
        "(hyplib.intervene); conditions pool singular and plural subjects.",
        "Criteria fixed before running: accuracy >= 0.9; one unit alone drops one number's "
        "attractor accuracy by >= 0.25; a number unit has |r| >= 0.5, and between one and "
        "10% of units are; ablation excess drop >= 0.10 over the random mean; simple "
        "accuracy after ablation >= 0.9; the best depth unit's |r| beats the untrained LM's "
        "best by >= 0.1 (an untrained LM has units with |r| about 0.6 with depth). Each is "
        "judged on its 95% interval: a bootstrap over test sentences (accuracies, drops), "
        "Fisher's interval of the best unit (correlations; not corrected for choosing it).",
    ),
    runtime=RUNTIME,
)
