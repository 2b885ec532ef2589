"""Trade-off curves (refusalkit.train.curves) and the paired look-alike selection of variant (c)."""

from __future__ import annotations

import json

import pytest

from refusalkit.errors import RefusalkitError
from refusalkit.train.align import trigger_twins
from refusalkit.train.curves import Point, at_level, compare, mean_gap


def test_at_level_is_the_best_over_refusal_that_keeps_the_harmful_level():
    pts = [(0.6, 0.1), (1.0, 0.5), (0.8, 0.2), (None, 0.9)]  # unsorted; an undefined point is skipped
    assert at_level(pts, 0.9) == pytest.approx(0.35)  # interpolated between (0.8, 0.2) and (1.0, 0.5)
    assert at_level(pts, 0.6) == pytest.approx(0.1)
    assert at_level(pts, 0.5) == pytest.approx(0.1)  # every point keeps more harmful refusal: its best one
    assert at_level(pts, 1.01) is None  # no point reaches the level
    assert at_level([(1.0, 0.5), (0.95, 0.2)], 0.9) == pytest.approx(0.2)
    assert at_level([(1.0, 0.5), (0.9, 0.4), (0.95, 0.1)], 0.9) == pytest.approx(
        0.1
    )  # a better point above the level counts
    assert at_level([(0.8, 0.2), (0.8, 0.4)], 0.8) == pytest.approx(0.2)  # the better of two points at one level
    assert at_level([(0.8, 0.2), (0.8, 0.4), (1.0, 0.5)], 0.9) == pytest.approx(0.4)  # interpolated from their mean


def test_mean_gap_is_the_area_between_curves_over_their_shared_range():
    flat_high, flat_low = [(0.0, 0.5), (1.0, 0.5)], [(0.2, 0.2), (0.6, 0.2)]
    assert mean_gap(flat_high, flat_low) == pytest.approx(0.3)  # over [0.2, 0.6] only
    assert mean_gap(flat_low, flat_high) == pytest.approx(-0.3)
    rising = [(0.0, 0.0), (1.0, 1.0)]
    assert mean_gap(rising, [(0.0, 0.0), (1.0, 0.0)]) == pytest.approx(0.5)
    assert mean_gap(rising, [(0.3, 0.1)]) is None  # a single point shares no range with width


def _point(method, value, harmful, benign):
    """A point whose verdicts refuse the first ``harmful`` of 20 harmful and ``benign`` of 40 look-alikes."""
    v = {f"h{i}": i < harmful for i in range(20)} | {f"b{i}": i < benign for i in range(40)} | {"p0": False}
    return Point(method, "K", value, {"core": v})


def test_compare_reports_matched_over_refusal_and_gaps_with_bootstrap_intervals():
    ids = {
        "harmful": [f"h{i}" for i in range(20)],
        "trigger_benign": [f"b{i}" for i in range(40)],
        "plain_benign": ["p0"],
    }
    a = _point("safety", 0, 20, 20)  # (a): 100% harmful, 50% look-alikes refused
    curves = {"b": [a, _point("generic", 150, 18, 18)], "c": [a, _point("triggers", 150, 18, 4)]}
    res = compare(curves, "core", ids, a, drops=[0.05], pairs=[("b", "c")], n_boot=300)
    at = res["at_matched"]["0.05"]
    assert at["harmful_refusal_level"] == pytest.approx(0.95)
    # halfway between (1.0, 0.5) and (0.9, 0.45) for b; between (1.0, 0.5) and (0.9, 0.1) for c
    assert at["b"]["look_alike_refusal"]["value"] == pytest.approx(0.475)
    assert at["c"]["look_alike_refusal"]["value"] == pytest.approx(0.3)
    assert at["c"]["reduction_vs_reference"]["value"] == pytest.approx(0.4)
    gap = res["gaps"]["b - c"]
    assert gap["value"] == pytest.approx((0.0 + 0.35) / 2)  # linear gap from 0 at x=1.0 to 0.35 at x=0.9
    lo, hi = gap["ci95"]
    assert 0 < lo <= gap["value"] <= hi  # c's advantage holds across resampled prompts
    assert res["reference"]["look_alike_refusal"] == 0.5


def test_paired_look_alikes_are_only_twins_of_refusals_in_the_mix():
    pairs = [("harm1", "twin1"), ("harm2", "twin2"), ("harm3", "twin3"), ("outside", "twin-out")]
    mix = {"harm1", "harm2", "harm3"}
    everything = trigger_twins(pairs, mix, 5, first=["suite-unpaired"])
    assert everything[0] == "suite-unpaired" and "twin-out" in everything  # "all": unpaired look-alikes are taken too
    first = ["suite-unpaired", "twin2"]  # a suite look-alike without a harmful partner, and one with
    paired = trigger_twins(pairs, mix, 5, first=first, look_alikes="paired")
    assert paired[0] == "twin2" and sorted(paired) == ["twin1", "twin2", "twin3"]  # each once, none unpaired
    # "partnered" takes the same look-alikes as "all" (its written partners are added by variant_examples)
    assert trigger_twins(pairs, mix, 5, first=first, look_alikes="partnered") == trigger_twins(
        pairs, mix, 5, first=first
    )
    with pytest.raises(RefusalkitError, match="look-alike") as err:
        trigger_twins(pairs, mix, 2, look_alikes="some")
    assert "\n" not in str(err.value) and "all, paired, partnered" in str(err.value)


@pytest.mark.integration
def test_curves_benchmark_reuses_the_study_and_trains_other_points_apart(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "benchmarks" / "study_curves.py"
    out = tmp_path / "study"
    cmd = [
        sys.executable,
        str(script),
        "--quick",
        "--model",
        "tiny-random",
        "--out",
        str(out),
        "--ks",
        "3",
        "6",
        "--epochs",
        "1",
        "--paired",
        "--suites",
        "core",
        "--n-boot",
        "20",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout)
    curves = report["curves"]["core"]
    assert set(curves) == {"(a) safety SFT", "(b) + generic benign", "(c) + trigger-aware", "(c) paired look-alikes"}
    assert [p["point"] for p in curves["(c) + trigger-aware"]] == ["triggers@K=0", "triggers@K=3", "triggers@K=6"]
    # K=6 is the quick study's own budget: trained in the study's folder; K=3 under curves/
    assert (out / "adapters" / "triggers" / "refusalkit-train.json").exists()
    assert (out / "curves" / "triggers-K3" / "adapters" / "triggers").is_dir()
    # the paired curve trains apart even at the study's budget (tiny-random's empty answers leave no
    # helpful examples, so its data cannot differ here; the selection itself is tested above)
    assert (
        out / "curves" / "triggers-look_alikes-paired-K6" / "adapters" / "triggers" / "refusalkit-train.json"
    ).exists()
    assert report["suites"]["core"]["suite"] == "core" and "provenance" in report
    assert (out / "curves.html").exists()
    # --from-runs reads the same points back from the run folders, without a model
    again = subprocess.run([*cmd, "--from-runs"], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["curves"] == report["curves"]
