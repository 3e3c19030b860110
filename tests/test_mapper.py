"""TopoAct's mapper graphs: planted shapes, kmapper's own membership, sampled layer vectors."""
import kmapper as km
import numpy as np
import pytest
from sklearn.cluster import DBSCAN
from sklearn.decomposition import PCA

from hyplib.engine import behaviours
from hyplib.errors import HyplibError
from hyplib.report import mapper, topo
from hyplib.report.mapview import layer_points

from .conftest import char_kind, digit


def ring(n, seed):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    flat = np.c_[np.cos(t), np.sin(t), np.zeros((n, 3))] + rng.normal(0, 0.03, (n, 5))
    return flat @ np.linalg.qr(rng.normal(size=(5, 5)))[0]  # a circle turned in 5-d


def blobs(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 1, (400, 8)), rng.normal(0, 1, (400, 8))
    b[:, :2] += 12
    return np.vstack([a, b]), np.repeat([0, 1], 400)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("lens", ["pca", "l2norm"])
def test_two_blobs_are_two_pure_components(seed, lens):
    points, labels = blobs(seed)
    g = mapper.build(points, labels, ["a", "b"], lens=lens)
    assert g.summary()["components"] == 2 and g.summary()["cycles"] == 0
    comp = g.composition()
    assert all(c["purity"] == 1.0 for c in comp.values())
    assert {c["dominant"] for c in comp.values()} == {"a", "b"}
    covered = np.unique(np.concatenate(list(g.nodes.values())))
    assert len(covered) >= 0.95 * len(points)  # few vectors left out as DBSCAN noise


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_ring_is_one_cycle(seed):
    s = mapper.build(ring(1000, seed), lens="pca").summary()
    assert s["components"] == 1 and s["cycles"] == 1 and s["nodes"] >= 8


def test_membership_is_kmappers_own():
    points = ring(600, 4)
    g = mapper.build(points, lens="pca", intervals=7, overlap=0.25, eps=0.1, min_samples=4,
                     balanced=False)
    m = km.KeplerMapper(verbose=0)
    lens = m.fit_transform(points, projection=PCA(n_components=1, random_state=0), scaler=None)
    own = m.map(lens, points, cover=km.Cover(n_cubes=7, perc_overlap=0.25),
                clusterer=DBSCAN(eps=0.1, min_samples=4))
    assert g.nodes == {k: list(v) for k, v in own["nodes"].items()}
    links = {tuple(sorted((a, b))) for a, bs in own["links"].items() for b in bs}
    assert {tuple(sorted(e)) for e in g.graph().edges} == links
    for a, b, d in g.graph().edges(data=True):
        assert d["weight"] == len(set(g.nodes[a]) & set(g.nodes[b]))


def test_bad_parameters_say_what_to_do():
    with pytest.raises(HyplibError, match="overlap 30 is not a fraction"):
        mapper.build(ring(50, 0), overlap=30)
    with pytest.raises(HyplibError, match="unknown lens 'umap'"):
        mapper.build(ring(50, 0), lens="umap")
    with pytest.raises(HyplibError, match="at least 2 activation vectors"):
        mapper.build(np.zeros((1, 3)))


def test_layer_points_are_a_stated_sample_with_their_labels(planted, records):
    pts = layer_points(planted, records, "features", char_kind, records=30, points=500, seed=1)
    assert pts.vectors.shape == (500, 12) and len(np.unique(pts.rows)) > 20
    for r, (start, end), y, v in zip(pts.rows[:20], pts.place[:20], pts.labels[:20],
                                     pts.vectors[:20]):
        c = records[int(r)]["text"][start]
        assert char_kind.classes[int(y)] == ("digit" if c.isdigit() else
                                              "upper" if c.isupper() else "other")
        direct = behaviours(planted, [records[int(r)]["text"]], ["features"], "cpu")["features"]
        np.testing.assert_allclose(v, direct[0][start], rtol=1e-6)


def test_topo_page_of_the_planted_layer(planted, records, tmp_path):
    g, path = topo(planted, records, "features", digit, tmp_path / "topo" / "p.html",
                   records=40, points=800, lens="pca")
    page = path.read_text()
    assert "https://" not in page and "<script src" not in page
    assert page.count('class="node"') == g.summary()["nodes"]
    assert "test.digit" in page and g.params["points"] == 800
