"""The front page's recipes run as written (at the smoke values of their first line) and make what
they promise; the recipe parser rejects a recipe it could not run at smoke size."""
import dataclasses
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from primps_core import paths
from primps_core.data import sources
from primps_core.study import readme

RECIPES = readme.recipes((paths.ROOT / readme.README).read_text())


def run_recipe(name: str, folder: Path, **values) -> list[dict]:
    """Run recipe ``name`` at its smoke values (and ``values`` for some of its variables) in
    ``folder`` with this venv's ``primps`` first on PATH; the JSON lines it printed (its stderr in
    ``run_recipe.stderr``)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    recipe = RECIPES[name]
    recipe = dataclasses.replace(recipe, smoke={**recipe.smoke, **values})
    done = subprocess.run(["bash", "-c", recipe.script(smoke=True)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    run_recipe.stderr = done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_the_front_page_has_the_four_recipes_and_the_figures_one_is_make_reproduce():
    assert set(RECIPES) == {"dataset", "fid", "finetune"}
    assert "make reproduce" in (paths.ROOT / readme.README).read_text()   # the fourth: covered by test_reproduce


def test_the_dataset_recipe_writes_a_stylegan2_ada_zip_of_the_asked_images(tmp_path):
    run_recipe("dataset", tmp_path)
    smoke = RECIPES["dataset"].smoke
    with zipfile.ZipFile(tmp_path / "pps.zip") as archive:
        names = archive.namelist()
        record = json.loads(archive.read("dataset.json"))
    assert len([n for n in names if n.endswith(".png")]) == int(smoke["N"])
    assert record["labels"] is None and record["primps"]["variant"] == "primitives-ps"
    images = sources.load_images(tmp_path / "pps.zip")
    assert images.shape == (int(smoke["N"]), int(smoke["RES"]), int(smoke["RES"]), 3)


def test_the_fid_recipe_gives_the_same_fid_from_saved_statistics(tmp_path):
    from_images, saved, from_stats = run_recipe("fid", tmp_path)
    assert from_images["kid_mean"] > 0 and from_images["fid"] > 0
    assert Path(saved["saved_stats"]) == tmp_path / "a_stats.npz" and (tmp_path / "a_stats.npz").exists()
    assert from_stats["fid"] == pytest.approx(from_images["fid"], rel=1e-6)


def test_the_finetune_recipe_trains_samples_and_scores(tmp_path):
    trained, samples, walk, scored = run_recipe("finetune", tmp_path)
    assert (tmp_path / "my_run" / "checkpoint.pt").exists() and (tmp_path / "primps-runs").is_dir()
    resolution = trained["resolution"]
    assert samples["images"] == 100 and scored["n_fake"] == 100 and np.isfinite(scored["fid"])
    assert sources.load_images(tmp_path / "my_samples.zip").shape == (100, resolution, resolution, 3)
    assert Image.open(tmp_path / "my_walk.png").size == (8 * resolution, 4 * resolution)
    assert walk["images"] == 32


def own_photos(folder: Path) -> Path:
    """A folder as photos come: JPEGs and PNGs of several sizes and shapes, grey, palette, CMYK,
    RGBA and 16-bit images, one JPEG stored sideways with an EXIF orientation."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k, (width, height) in enumerate([(64, 64), (300, 200), (48, 80), (120, 120), (33, 61), (90, 45)] * 2):
        image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        mode = ["RGB", "L", "P", "CMYK", "RGBA", "I;16"][k % 6]
        image = image.convert(mode) if mode != "I;16" else Image.fromarray(
            rng.integers(0, 65536, (height, width), dtype=np.uint16))
        if mode in ("RGB", "L", "CMYK"):
            exif = Image.Exif()
            exif[0x0112] = 6 if k % 2 == 0 else 1    # 6: rotate 90 degrees clockwise to view
            image.save(folder / f"photo{k:02d}.jpg", exif=exif)
        else:
            image.save(folder / f"photo{k:02d}.png")
    return folder


def test_the_finetune_recipe_runs_on_a_folder_of_mixed_photos_and_scores_at_one_size(tmp_path):
    photos = own_photos(tmp_path / "my photos")
    trained, samples, walk, scored = run_recipe("finetune", tmp_path, IMAGES=str(photos))
    assert trained["data"] == "my photos" and trained["resolution"] == int(RECIPES["finetune"].smoke["RES"])
    assert "note: the 12 images of my photos are of 6 sizes, 33 to 200 px" in run_recipe.stderr
    assert "differ in resolution" not in run_recipe.stderr          # the recipe scores at the size it trained
    assert scored["n_real"] == 12 and scored["n_fake"] == 100 and np.isfinite(scored["fid"])


@pytest.mark.parametrize("first_line, message", [
    ("N=5", "must set its variables and end with '# smoke:"),
    ("primps synth --n 5   # smoke: N=1", "expected VAR=VALUE"),
    ("N=5   # smoke: M=1", "must set its variables"),
])
def test_a_recipe_that_could_not_be_run_at_smoke_size_is_refused(first_line, message):
    text = f"<!-- recipe: broken -->\n```bash\n{first_line}\nprimps synth --n $N\n```\n"
    with pytest.raises(ValueError, match=message):
        readme.recipes(text)
