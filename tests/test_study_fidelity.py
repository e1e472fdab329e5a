"""The comparison with the official code behind notebook 02 (study/fidelity.py): the cached stage,
its tables, and what a small resolution does to the shapes."""
import numpy as np

from primps_core import synth
from primps_core.study import fidelity, synthesizer, tables
from primps_core.study.pipeline import Context


def test_stage_compares_every_variant_the_geometry_and_every_option(tmp_path):
    config = fidelity.FidelityConfig(images=8, code_digest=synth.code_digest(), small=16)
    result = fidelity.synth_fidelity_stage(config, preset="smoke", context=Context(tmp_path, progress=False))
    rows = tables.csv_rows(result.path / "fidelity.csv")
    comparisons = list(dict.fromkeys(row["comparison"] for row in rows))
    at_16 = [name for variant in fidelity.COUNTERPARTS for name in (f"{variant} at 16 px",
                                                                    f"{variant} at 16 px, drawn at that size (designs 1-3)")]
    assert comparisons == (list(fidelity.COUNTERPARTS) + at_16 + ["salient object alone", "100 shapes, each alone"]
                           + [f"option: {label}" for label, *_ in fidelity.OPTIONS])
    assert [fidelity.is_counterpart(row) for row in rows if row["statistic"] == "mean red"] == \
        [True] * 4 + [True, False] * 4 + [False] * len(fidelity.OPTIONS)
    assert all(row["n_per_side"] == 8 and 0 <= row["ks"] <= 1 and 0 <= row["p"] <= 1 for row in rows)
    markdown = fidelity.markdown_table(rows)
    assert markdown.count("| statistic |") == len(comparisons) and "**primitives-ps** against pink_leaves()" in markdown
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "synth_fidelity.csv").write_text((result.path / "fidelity.csv").read_text())
    summary = synthesizer.fidelity_summary(tmp_path / "figures")
    assert [row["comparison"] for row in summary] == comparisons
    assert all(row["images per side"] == 8 and row["statistics"] >= 3 for row in summary)


def test_vanishing_shapes_at_32_px_and_none_at_256_px():
    rows = fidelity.vanishing_shapes(6, (32, 256))
    small = [row for row in rows if row["resolution"] == 32]
    large = [row for row in rows if row["resolution"] == 256]
    assert len(small) == len(large) == 100
    assert all(row["no_pixel"] == 0 for row in large)          # at 256 px every shape draws a pixel
    assert np.mean([row["under_one_pixel"] for row in large]) < 0.01    # (a dot-like one-pixel line: ~0.8 px)
    # sizes are randint(1, limit): the first shapes (limit 53 grid pixels) are rarely under a pixel at
    # 32 px, many of the last (limit 3) are
    first, last = (np.mean([row["under_one_pixel"] for row in part]) for part in (small[:10], small[-10:]))
    assert first < 0.2 and last > 0.3
    # point sampling misses some of them entirely
    assert np.mean([row["no_pixel"] for row in small[-10:]]) > 0.1
