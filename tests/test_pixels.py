"""Images through the engine: bilinear upsampling to the label grid, chunking, planted conv units,
and IoU against its definition computed directly."""
import datasets
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import hyplib
from hyplib.align import Upsampler, interpolation_matrix
from hyplib.engine import inspect
from hyplib.errors import HyplibError
from hyplib.models import ImageModel

S = 24  # image and label grid size


class PlantedConv(nn.Module):
    """``features.0`` (full resolution): unit 0 = the red channel minus the others (fires on the
    red square), unit 1 = blue minus the others, units 2-5 fixed pseudo-random mixtures plus a
    position pattern; ``features.1`` the same averaged over 3×3 cells (a coarser map)."""

    def __init__(self):
        super().__init__()
        conv = nn.Conv2d(3, 6, 1)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            conv.weight.copy_(torch.randn(6, 3, 1, 1, generator=g) * 0.3)
            conv.weight[:2, :, 0, 0] = torch.tensor([[1.0, -0.5, -0.5], [-0.5, -0.5, 1.0]])
            conv.bias.zero_()
        self.features = nn.Sequential(conv, nn.AvgPool2d(3))

    def forward(self, x):
        grid = torch.arange(S, device=x.device)
        yy, xx = torch.meshgrid(grid, grid, indexing="ij")
        wave = torch.sin(0.7 * xx + 1.3 * yy).float() * 0.2
        h = self.features[0](x) + torch.cat([wave.new_zeros(2, S, S), wave.expand(4, S, S)])
        return self.features[1](h)


def _scenes(n=30, seed=0):
    """Grey noise images, each with a red square (~2% of pixels) and a blue bar somewhere."""
    rng = np.random.default_rng(seed)
    images, masks = [], []
    for _ in range(n):
        img = rng.integers(90, 140, size=(S, S, 3), dtype=np.uint8)
        mask = np.zeros((S, S), np.uint8)
        y, x = rng.integers(0, S - 3, size=2)
        img[y:y + 3, x:x + 3] = (230, 20, 20)
        mask[y:y + 3, x:x + 3] = 1
        c = rng.integers(0, S - 2)
        img[:, c:c + 2] = (20, 20, 230)
        mask[:, c:c + 2] = 2
        images.append(img)
        masks.append(mask)
    feats = datasets.Features({"image": datasets.Image(), "mask": datasets.Image(),
                               "height": datasets.Value("int32"), "width": datasets.Value("int32")})
    return datasets.Dataset.from_dict({"image": images, "mask": masks, "height": [S] * n,
                                       "width": [S] * n}, features=feats)


@hyplib.hypothesis("test.region", kind="categorical", level="pixel", field="mask",
                   classes=("none", "red", "blue"))
def region(mask):
    return np.asarray(mask)


def _model():
    return ImageModel("planted", PlantedConv(), size=S, mean=(0, 0, 0), std=(1, 1, 1),
                      default_layers=("features.0", "features.1"))


def test_interpolation_matrix_is_bilinear_upsampling():
    fmap = torch.randn(2, 5, 3, 4)
    want = F.interpolate(fmap, size=(7, 10), mode="bilinear", align_corners=False)
    got = torch.einsum("Yh,kchw,Xw->kcYX", interpolation_matrix(3, 7), fmap,
                       interpolation_matrix(4, 10))
    torch.testing.assert_close(got, want)


def test_known_map_gives_known_pixels():
    # a 2×2 map upsampled to 4×4 (align_corners=False): corners keep the map's values, the
    # middle pixels are 3/4-1/4 mixtures; a 1×1 map is constant
    fmap = torch.tensor([[0.0, 4.0], [8.0, 12.0]])[None, None]
    (rows, x), = Upsampler(np.array([[4, 4]])).chunks(fmap)
    grid = torch.zeros(16).index_copy_(0, rows, x[:, 0]).view(4, 4)
    assert grid[0].tolist() == [0, 1, 3, 4]
    assert grid[:, 0].tolist() == [0, 2, 6, 8]
    assert grid[3, 3] == 12 and grid[1, 1] == 3
    (rows, x), = Upsampler(np.array([[2, 3]])).chunks(torch.full((1, 1, 1, 1), 5.0))
    assert x.view(-1).tolist() == [5.0] * 6


@pytest.mark.parametrize("budget", [10 ** 9, 40, 7])
def test_chunks_cover_every_pixel_once_in_any_budget(budget):
    # records of two grid sizes; the budget forces whole images, row bands or single rows
    grids = np.array([[5, 6], [3, 4], [5, 6]])
    fmap = torch.randn(3, 2, 2, 3)
    parts = list(Upsampler(grids, budget).chunks(fmap))
    rows = torch.cat([r for r, _ in parts])
    assert sorted(rows.tolist()) == list(range(30 + 12 + 30))
    assert all(x.numel() <= max(budget, 6 * 2) for _, x in parts)
    x = torch.zeros(72, 2).index_copy_(0, rows, torch.cat([x for _, x in parts]))
    for b, (h, w), start in zip(range(3), grids, [0, 30, 42]):
        want = F.interpolate(fmap[b:b + 1], size=(h, w), mode="bilinear", align_corners=False)
        torch.testing.assert_close(x[start:start + h * w], want[0].flatten(1).T)


def test_planted_conv_unit_detects_its_concept():
    data = _scenes()
    red = np.mean([np.asarray(m) == 1 for m in data["mask"]])  # the blue bar may hide some
    result = inspect(_model(), data, [region], ["iou"], progress=False,
                     inspector_args={"iou": {"quantile": 1 - 0.98 * red}})
    t = result.table.query("metric == 'iou'")
    top = (t.sort_values("score", ascending=False).groupby(["layer", "label"]).head(1)
           .set_index(["layer", "label"]))
    assert top.loc[("features.0", "red"), "unit"] == 0
    assert top.loc[("features.0", "red"), "score"] > 0.95
    assert top.loc[("features.1", "red"), "unit"] == 0  # blurred by the 3×3 pooling, still first
    assert 0.3 < top.loc[("features.1", "red"), "score"] < 0.95
    others = t.query("layer == 'features.0' and label == 'red' and unit != 0")["score"]
    assert others.max() < 0.3
    assert result.meta["symbols"] == {"pixel": len(data) * S * S}


def test_iou_equals_the_definition_and_batching_does_not_matter():
    data = _scenes(40, seed=1)
    model = _model()
    q = 0.9
    got = [inspect(model, data, [region], ["iou"], layers=["features.1"], batch_size=bs,
                   pixel_budget=budget, progress=False, inspector_args={"iou": {"quantile": q}})
           .table.query("metric == 'iou'").pivot(index="unit", columns="label", values="score")
           for bs, budget in ((16, 1 << 24), (7, 100))]
    # the definition, directly: upsample each map, threshold every unit at its quantile over
    # all pixels, IoU = Σ|A ∩ L| / Σ|A ∪ L| over the data set
    with torch.no_grad():  # the module's output is layer features.1
        up = F.interpolate(model.module(model.encode(list(data["image"])).inputs["pixels"]),
                           size=(S, S), mode="bilinear", align_corners=False)
    acts = up.permute(1, 0, 2, 3).reshape(6, -1).numpy()
    labels = np.stack([np.asarray(m) for m in data["mask"]]).reshape(-1)
    for u in range(6):
        a = acts[u] > np.quantile(acts[u], q)
        for c, name in enumerate(("none", "red", "blue")):
            lab = labels == c
            want = (a & lab).sum() / (a | lab).sum()
            for table in got:
                assert table.loc[u, name] == pytest.approx(want, abs=0.02)
    np.testing.assert_allclose(got[0].to_numpy(), got[1].to_numpy(), atol=1e-9)


def test_image_level_behaviour_is_the_spatial_mean():
    data = _scenes(12)
    model = _model()

    @hyplib.hypothesis("test.has_red_left", level="record", field="mask")
    def red_left(mask):
        return bool((np.asarray(mask)[:, :S // 2] == 1).any())

    result = inspect(model, data, [red_left], ["correlation"], layers=["features.1"],
                     progress=False)
    with torch.no_grad():
        h = model.module(model.encode(list(data["image"])).inputs["pixels"]).mean((2, 3))
    y = np.array([red_left.fn({"mask": [m]})[0] for m in data["mask"]], float)
    want = [np.corrcoef(h[:, u].numpy(), y)[0, 1] for u in range(6)]
    np.testing.assert_allclose(result.table.sort_values("unit")["score"], want, atol=1e-5)
    assert result.meta["symbols"] == {"record": 12}


def test_levels_must_fit_the_model(planted, records):
    from .conftest import digit

    with pytest.raises(HyplibError, match=r"model 'planted' is an image model: it takes pixel "
                                          r"and record hypotheses, not test.digit"):
        inspect(_model(), _scenes(4), [digit], progress=False)
    with pytest.raises(HyplibError, match=r"is a text model: it takes char, word and record "
                                          r"hypotheses, not test.region"):
        inspect(planted, records, [region], progress=False)
    with pytest.raises(HyplibError, match=r"the behaviour cache keeps text models' behaviours "
                                          r"only"):
        inspect(_model(), _scenes(4), [region], ["iou"], behaviour_cache=True, progress=False)


def test_records_without_a_label_grid_are_refused():
    data = _scenes(4).remove_columns(["height"])
    with pytest.raises(HyplibError, match=r"pixel-level hypotheses need records with 'height' "
                                          r"and 'width' columns"):
        inspect(_model(), data, [region], ["iou"], progress=False)


def test_non_finite_feature_maps_name_the_unit_and_record():
    model = _model()
    model.module.features[0].bias.data[4] = float("nan")
    with pytest.raises(HyplibError, match=r"unit planted:features.0\[4\] is nan on record \d+"):
        inspect(model, _scenes(4), [region], ["iou"], layers=["features.0"], progress=False)
