"""The notebook-02 explorer: a static figure without a frontend, live redraws on control changes."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from primps_core.study import spectrum_analysis  # noqa: E402
from primps_core.viz import widgets  # noqa: E402


def test_explorer_draws_then_redraws_on_change_and_reports_bad_combinations(monkeypatch, capsys):
    shown, boxes = [], []
    monkeypatch.setattr(plt, "show", lambda: shown.append(plt.gcf()))
    monkeypatch.setattr(widgets, "display", boxes.append)
    photos = {"freq": spectrum_analysis.SPECTRUM_GRID, "photos": -2.6 * np.log10(spectrum_analysis.SPECTRUM_GRID)}
    widgets.synth_explorer(photos, resolution=32)
    assert len(shown) == 1 and len(shown[0].axes) == 9                 # 8 images + the spectrum, drawn statically
    controls = {c.description: c for row in boxes[0].children[:2] for c in row.children}
    controls["variant"].value = "ps-noise"
    assert len(shown) == 2 and "ps-noise" in shown[1]._suptitle.get_text()
    controls["a, b range"].value = (0.0, 0.0)                          # impossible: reported, not raised
    assert len(shown) == 2 and "error: alpha_range" in capsys.readouterr().out
    plt.close("all")
