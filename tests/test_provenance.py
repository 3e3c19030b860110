"""Every result says what produced it."""
import torch

import hyplib
from hyplib.provenance import distribution_of


def test_result_meta_records_versions_weights_and_settings(planted, records, tmp_path):
    from .conftest import digit

    result = hyplib.inspect(planted, records, [digit], ["correlation"], progress=False,
                            device="cpu", seed=3, max_records=20)
    prov = result.meta["provenance"]
    assert prov["hyplib"] == hyplib.__version__ and prov["torch"] == torch.__version__
    assert prov["distributions"] == [f"hyplib {hyplib.__version__}"]  # the inspector's
    assert (prov["device"], prov["precision"], prov["seed"], prov["pool"]) == ("cpu", "float32",
                                                                                3, "first")
    before = prov["models"]["planted"]
    planted.module.register_buffer("scale", torch.ones(1))  # the weights change
    again = hyplib.inspect(planted, records, [digit], progress=False, device="cpu", max_records=20)
    assert again.meta["provenance"]["models"]["planted"] != before  # weights fingerprinted
    saved = hyplib.Result.load(result.save(tmp_path / "r.parquet"))
    assert saved.meta["provenance"] == prov


def test_distribution_of_a_pack_hypothesis():
    upos = hyplib.catalog().get("hypotheses", "pos.upos")
    assert distribution_of(upos).startswith("hyplib-pos ")
    assert distribution_of(lambda: 0) is None  # code outside any distribution


def test_weights_fingerprint_covers_plain_settings():
    from hyplib.behaviour_cache import model_fingerprint

    a, b = torch.nn.Dropout(0.1), torch.nn.Dropout(0.2)
    assert model_fingerprint(a) != model_fingerprint(b)
    assert model_fingerprint(a) == model_fingerprint(torch.nn.Dropout(0.1))
