"""Presets hold every size; only the canonical preset writes the tracked figures/ folder."""
import pytest

from primps_core import paths, presets


def test_every_preset_is_complete_and_grows_from_smoke_to_gpu():
    smoke, cpu, gpu = (presets.get_preset(n) for n in ("smoke", "cpu", "gpu"))
    assert smoke.patches_per_size < cpu.patches_per_size < gpu.patches_per_size
    assert smoke.reference_images < cpu.reference_images <= gpu.reference_images
    assert [row["name"] for row in presets.preset_table()] == ["smoke", "cpu", "gpu", "gpu-short"]


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match="unknown preset 'fast'; expected one of smoke, cpu, gpu"):
        presets.get_preset("fast")


def test_only_the_canonical_preset_writes_figures():
    assert paths.figures_dir("cpu") == paths.FIGURES_DIR
    assert paths.figures_dir("smoke") == paths.RUNS_DIR / "smoke" / "figures"
    assert paths.figures_dir("gpu") == paths.RUNS_DIR / "gpu" / "figures"


def test_atomic_write_replaces_whole_or_leaves_the_old_file(tmp_path):
    import pytest
    from primps_core.paths import atomic_write
    target = tmp_path / "sub" / "table.csv"
    atomic_write(target, lambda temporary: open(temporary, "w").write("new"))
    assert target.read_text() == "new"

    def fail(temporary):
        open(temporary, "w").write("half")
        raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_text() == "new" and [p.name for p in target.parent.iterdir()] == ["table.csv"]
