"""Build the embedded data in ``data/`` from offline package registries (Debian, PyPI, npm).

Run once (it needs ``apt-get``, ``dpkg``, ``npm`` and the ``[data]`` extra: scikit-image,
scikit-learn); users never need to: the result is committed. Each folder is written to a
temporary name and renamed into place, and holds a ``PROVENANCE.csv`` with every file's source,
version, original path and licence.

``data/photos/``: real photographs picked by eye from the sources below; renders, vector art,
logos, charts, text, calibration and stereo-partner frames were left out. Each is converted to
RGB (or L when its three channels are equal), downscaled with Lanczos so that its longest side is
512 px, and saved as JPEG (quality 92).

``data/targets/<name>/``: the low-shot transfer targets, 64x64 PNG:
- ``faces-100``: the 100 faces of ``skimage.data.lfw_subset()`` (25x25 grey, upscaled with Lanczos);
- ``emoji-animals``, ``emoji-food``: every Twemoji of the "Animals & Nature" and "Food & Drink"
  categories in the npm package ``emoji-datasource-twitter`` (64x64 RGBA, copied byte for byte;
  readers composite them on white);
- ``sneakers-100``: the first 100 Fashion-MNIST training images of class 7, Sneaker (Debian
  ``dataset-fashion-mnist``; 28x28 grey, upscaled with Lanczos);
- ``landscapes``: colour photographs of natural landscapes (mountains, seas, canyons, deserts,
  fields, snow, ...), the planet-surface images of Debian ``endless-sky-data`` (720x360 JPEG): every
  one whose name is not a scene of buildings, machines, space or archives (``LANDSCAPE_EXCLUDED``),
  the centre square, Lanczos to 64x64;
- ``galaxies``: colour photographs of galaxies, the deep-sky images of Debian ``stellarium-data``
  whose object is a galaxy (normal, active, radio or interacting) in Stellarium's own catalogue
  (``catalog.dat``), the centre ``GALAXY_CROP`` of each side (the object fills more of it),
  Lanczos to 64x64, each with its photographer's credit from ``textures.json``.

``data/cjk-glyphs/glyphs.npz``: the many-class data of notebook 08, the 3,755 GB2312 level-1
Chinese characters drawn by each face of ``primps_core.data.glyphs.FACES`` (fonts of Debian's
packages), 32x32 grey; and ``tests/data/cjk-fonts/``: each face cut down (fontTools' subsetter) to
the characters of ``CJK_TEST_CLASSES``, small enough to commit, with which the tests redraw those
classes and compare them byte for byte with the committed glyphs.

``data/fashion-mnist/fashion-mnist.npz``: the sensitive data of notebook 07 (DP synthesis), a
class-balanced subset of Fashion-MNIST (Debian ``dataset-fashion-mnist``, 28x28 grey, unchanged):
the first ``FASHION_TRAIN_PER_CLASS`` training images of each class in file order and the first
``FASHION_TEST_PER_CLASS`` test images of each class, with their labels and their indices in the
original files (the whole set, 70,000 images, would be about 30 MB).

    python scripts/build_data.py [--only photos|targets|fashion-mnist|cjk-glyphs] [--data data]
"""
from __future__ import annotations

import argparse
import csv
import fnmatch
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

LONGEST_SIDE = 512
JPEG_QUALITY = 92
TARGET_SIZE = 64
EMOJI_PACKAGE = "emoji-datasource-twitter"
EMOJI_LICENCE = "CC-BY-4.0 (Twemoji graphics, Twitter Inc. and other contributors)"
EMOJI_CATEGORIES = {"emoji-animals": "Animals & Nature", "emoji-food": "Food & Drink"}
FASHION_SNEAKER = 7
FASHION_TRAIN_PER_CLASS, FASHION_TEST_PER_CLASS = 1000, 200
LANDSCAPE_PACKAGE, LANDSCAPE_FOLDER = "endless-sky-data", "usr/share/games/endless-sky/images/land"
# Name prefixes of the package's landscape images that are not natural scenes: cities, buildings,
# a landing field, spacecraft and stations, space views, NASA renders, Library of Congress archives.
LANDSCAPE_EXCLUDED = ("city", "earthrise", "industrial", "loc", "mfield", "nasa", "space", "station")
GALAXY_PACKAGE, GALAXY_FOLDER = "stellarium-data", "usr/share/stellarium/nebulae/default"
GALAXY_TYPES = {0: "galaxy", 1: "active galaxy", 2: "radio galaxy", 3: "interacting galaxy"}
GALAXY_CROP = 0.6
CJK_TEST_CLASSES = (0, 1, 2, 1000, 2000, 3753, 3754)   # first, middle and last GB2312 level-1 characters
TESTS_DIR = Path(__file__).resolve().parents[1] / "tests" / "data"

# Debian packages and the photographs picked from each (paths inside the package).
DEBIAN_PHOTOS = {
    "lomiri-wallpapers-16.04": [
        f"usr/share/backgrounds/{n}.jpg" for n in (
            "Picture_1A_by_freespace", "Wine_by_Jakkub_Mede", "seeding_by_Clements_Engelhardt",
            "aitzgorri_by_Aitzol_Berasategi", "Dragonfly_by_Bolly", "friends_by_Aitzol_Berasategi",
            "sunset_by_Aitzol_Berasategi", "picosdeeuropa_by_Aitzol_Berasategi",
            "Picture_0B_by_freespace", "life_by_Aitzol_Berasategi", "Bridge_by_Sander_Klootwijk")
    ],
    "lomiri-wallpapers-20.04": ["usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg"],
    "mate-backgrounds": [
        f"usr/share/backgrounds/mate/nature/{n}.jpg" for n in (
            "Garden", "Dune", "Wood", "Aqua", "TwoWings", "Storm", "GreenMeadow", "RainDrops",
            "Blinds", "FreshFlower", "LadyBird", "YellowFlower")
    ],
    "lxqt-themes": [
        f"usr/share/lxqt/wallpapers/{n}" for n in (
            "Butterfly-Kenneth-Wimer.jpg", "Valendas.png", "after-the-rain.jpg", "appleflower.png",
            "beam.png", "butterfly.png", "cloud.png", "drop.png", "flowers.png", "fog.jpg",
            "this-is-not-windows.jpg")
    ],
    "plasma-workspace-wallpapers": [
        f"usr/share/wallpapers/{n}" for n in (
            "BytheWater/contents/images/1280x1024.jpg", "ColdRipple/contents/images/1280x1024.jpg",
            "ColorfulCups/contents/images/2560x1600.jpg", "DarkestHour/contents/images/1280x1024.jpg",
            "EveningGlow/contents/images/1280x1024.jpg", "FallenLeaf/contents/images/1280x1024.jpg",
            "Grey/contents/images/1280x1024.jpg", "Kite/contents/images/1280x1024.jpg",
            "OneStandsOut/contents/images/1280x1024.jpg", "Path/contents/images/1280x1024.jpg",
            "summer_1am/contents/images/1280x1024.jpg")
    ],
    "opencv-doc": [
        f"usr/share/doc/opencv-doc/examples/{n}" for n in (
            "data/aero1.jpg", "data/aero3.jpg", "data/aloeL.jpg", "data/apple.jpg",
            "data/baboon.jpg", "data/basketball1.png", "data/board.jpg", "data/box.png",
            "data/box_in_scene.png", "data/building.jpg", "data/butterfly.jpg",
            "data/chicky_512.png", "data/ela_original.jpg", "data/fruits.jpg", "data/graf1.png",
            "data/home.jpg", "data/left.jpg", "data/leuvenA.jpg", "data/messi5.jpg",
            "data/orange.jpg", "data/rubberwhale1.png", "data/squirrel_cls.jpg", "data/stuff.jpg",
            "hfs/data/000.jpg", "hfs/data/001.jpg", "hfs/data/002.jpg")
    ],
}

# scikit-image's bundled photographs and their licences (from each loader's docstring).
SKIMAGE_PHOTOS = {
    "astronaut": "Public domain (NASA)",
    "chelsea": "CC0 (Stefan van der Walt)",
    "coffee": "CC0 (Rachel Michetti)",
    "rocket": "Public domain (SpaceX)",
    "stereo_motorcycle": "Middlebury stereo dataset, research use (left view)",
    "camera": "CC0 (Lav Varshney)",
    "coins": "No known copyright restrictions (Brooklyn Museum)",
    "moon": "scikit-image sample data (BSD-3-Clause distribution)",
    "grass": "CC0 (linolafett, DeviantArt)",
    "gravel": "CC0 (CC0Textures)",
    "brick": "CC0 (CC0Textures)",
}
SKLEARN_PHOTOS = {"china.jpg": "CC-BY-2.0 (danielbuechele, Flickr)",
                  "flower.jpg": "CC-BY-2.0 (vultilion, Flickr)"}


def fetch_debian_package(package: str, workdir: Path) -> tuple[Path, str]:
    """Download ``package`` with apt-get and unpack it; return (root, version)."""
    subprocess.run(["apt-get", "download", package], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deb = next(workdir.glob(f"{package}_*.deb"))
    version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True,
                             capture_output=True, text=True).stdout.strip()
    root = workdir / package
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root, version


def debian_licence(copyright_file: Path, member: str) -> str:
    """Licence of ``member`` in a DEP-5 copyright file: the most specific matching Files stanza."""
    return debian_stanza(copyright_file, member).get("License", "unknown")


def debian_stanza(copyright_file: Path, member: str) -> dict:
    """The fields (License, Copyright, ...) of the most specific Files stanza of a DEP-5 copyright
    file that matches ``member``; empty when none does."""
    best, best_score = {}, -1
    for stanza in copyright_file.read_text(errors="replace").split("\n\n"):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line[:1].isspace() and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if "Files" not in fields or "License" not in fields:
            continue
        for pattern in fields["Files"].split():
            name = Path(member).name
            if pattern == "*":
                score = 0
            elif Path(pattern).name == name or fnmatch.fnmatch(member, "*" + pattern):
                score = len(pattern)
            else:
                continue
            if score > best_score:
                best, best_score = {key: value.strip() for key, value in fields.items()}, score
    return best


def to_photo(image: Image.Image) -> Image.Image:
    """RGB (or L when the channels are equal), longest side at most 512 px, Lanczos."""
    image = ImageOps.exif_transpose(image).convert("RGB")
    array = np.asarray(image)
    if np.abs(array.astype(int) - array[..., :1]).max() <= 2:
        image = image.convert("L")
    scale = LONGEST_SIDE / max(image.size)
    if scale < 1:
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def collect(workdir: Path):
    """Yield (name, PIL image, source, version, original path, licence) for every photo."""
    for package, members in DEBIAN_PHOTOS.items():
        root, version = fetch_debian_package(package, workdir)
        copyright_file = root / "usr/share/doc" / package / "copyright"
        for member in members:
            stem = Path(member).stem if "contents" not in member else member.split("/")[3]
            yield (f"{package}_{stem}", Image.open(root / member), package, version, "/" + member,
                   debian_licence(copyright_file, member))
    import skimage
    import skimage.data
    for name, licence in SKIMAGE_PHOTOS.items():
        array = getattr(skimage.data, name)()
        array = array[0] if isinstance(array, tuple) else array
        yield (f"skimage_{name}", Image.fromarray(array), "scikit-image (PyPI)", skimage.__version__,
               f"skimage.data.{name}()", licence)
    import sklearn
    images_dir = Path(sklearn.__file__).parent / "datasets" / "images"
    for name, licence in SKLEARN_PHOTOS.items():
        yield (f"sklearn_{Path(name).stem}", Image.open(images_dir / name), "scikit-learn (PyPI)",
               sklearn.__version__, f"sklearn/datasets/images/{name}", licence)


def build(out: Path, write) -> int:
    """Run ``write(staging) -> rows`` into a temporary folder beside ``out``, then rename it to ``out``."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        rows = write(staging)
        write_provenance(staging, rows)
    except BaseException:
        shutil.rmtree(staging)
        raise
    if out.exists():
        shutil.rmtree(out)
    os.rename(staging, out)
    return len(rows)


def write_provenance(folder: Path, rows: list[dict]) -> None:
    with open(folder / "PROVENANCE.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_photos(staging: Path) -> list[dict]:
    """Convert every collected photo into ``staging`` and write its PROVENANCE.csv."""
    rows, seen = [], {}
    with tempfile.TemporaryDirectory() as workdir:
        for name, image, source, version, original, licence in collect(Path(workdir)):
            photo = to_photo(image)
            digest = hashlib.sha256(photo.tobytes()).hexdigest()
            if digest in seen:
                raise SystemExit(f"{name} duplicates {seen[digest]}")
            seen[digest] = name
            buffer = io.BytesIO()
            photo.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
            (staging / f"{name}.jpg").write_bytes(buffer.getvalue())
            rows.append({"file": f"{name}.jpg", "source": source, "version": version,
                         "original_path": original, "licence": licence, "mode": photo.mode,
                         "width": photo.width, "height": photo.height})
    return rows


def upscaled_png(grey: np.ndarray) -> bytes:
    """A small uint8 greyscale image resized to 64x64 with Lanczos, as PNG bytes."""
    image = Image.fromarray(grey).resize((TARGET_SIZE, TARGET_SIZE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def target_row(file: str, source: str, version: str, original: str, licence: str) -> dict:
    return {"file": file, "source": source, "version": version, "original_path": original, "licence": licence}


def write_faces(staging: Path) -> list[dict]:
    """``faces-100``: the 100 face crops of scikit-image's LFW subset."""
    import skimage
    import skimage.data
    faces = skimage.data.lfw_subset()[:100]
    rows = []
    for i, face in enumerate(faces):
        name = f"face_{i:03d}.png"
        (staging / name).write_bytes(upscaled_png(np.round(face * 255).astype(np.uint8)))
        rows.append(target_row(name, "scikit-image (PyPI)", skimage.__version__, f"skimage.data.lfw_subset()[{i}]",
                               "Labeled Faces in the Wild (research use), as distributed with scikit-image (BSD-3-Clause)"))
    return rows


def fetch_npm_package(package: str, workdir: Path) -> tuple[Path, str]:
    """Download ``package`` with ``npm pack`` and unpack it; return (root, version)."""
    subprocess.run(["npm", "pack", package, "--silent"], cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    tarball = next(workdir.glob(f"{package}-*.tgz"))
    shutil.unpack_archive(tarball, workdir)
    root = workdir / "package"
    return root, json.loads((root / "package.json").read_text())["version"]


def write_emoji(category: str, root: Path, version: str, staging: Path) -> list[dict]:
    """Every Twemoji of ``category`` that the package ships as a 64 px PNG, copied byte for byte."""
    rows = []
    for emoji in sorted(json.loads((root / "emoji.json").read_text()), key=lambda e: e["sort_order"]):
        if emoji["category"] != category or not emoji["has_img_twitter"]:
            continue
        source = root / "img" / "twitter" / "64" / emoji["image"]
        with Image.open(source) as image:
            assert image.size == (TARGET_SIZE, TARGET_SIZE), source
        name = f"{emoji['sort_order']:04d}_{emoji['short_name']}.png"
        shutil.copyfile(source, staging / name)
        rows.append(target_row(name, f"{EMOJI_PACKAGE} (npm)", version, f"img/twitter/64/{emoji['image']}", EMOJI_LICENCE))
    return rows


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format: big-endian dims after a 4-byte magic) as a uint8 array."""
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` items of every class, in file order."""
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]))


def write_fashion_mnist(staging: Path) -> list[dict]:
    """``fashion-mnist.npz``: class-balanced train and test subsets with labels and original indices."""
    with tempfile.TemporaryDirectory() as workdir:
        root, version = fetch_debian_package("dataset-fashion-mnist", Path(workdir))
        folder = root / "usr/share/datasets/fashion-mnist"
        licence = debian_licence(root / "usr/share/doc/dataset-fashion-mnist/copyright", "train-images-idx3-ubyte.gz")
        arrays, rows = {}, []
        for split, prefix, per_class in (("train", "train", FASHION_TRAIN_PER_CLASS), ("test", "t10k", FASHION_TEST_PER_CLASS)):
            images, labels = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz"), read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")
            index = first_per_class(labels, per_class)
            arrays |= {f"{split}_images": images[index], f"{split}_labels": labels[index],
                       f"{split}_index": index.astype(np.int32)}
            rows.append(target_row(f"fashion-mnist.npz:{split}_images", "dataset-fashion-mnist (Debian)", version,
                                   f"/usr/share/datasets/fashion-mnist/{prefix}-images-idx3-ubyte.gz[{split}_index] "
                                   f"(first {per_class} of each class)", licence))
    np.savez_compressed(staging / "fashion-mnist.npz", **arrays)
    return rows


def fetch_font_packages(workdir: Path) -> dict[str, tuple[Path, str]]:
    """Every package of ``glyphs.FACES``, downloaded and unpacked: {package: (root, version)}."""
    from primps_core.data import glyphs
    packages = dict.fromkeys(face.package for face in glyphs.FACES)
    return {package: fetch_debian_package(package, workdir) for package in packages}


def face_row(file: str, face, fonts: dict, note: str = "") -> dict:
    root, version = fonts[face.package]
    copyright_file = root / "usr/share/doc" / face.package / "copyright"
    licence = debian_licence(copyright_file, face.file)
    if licence == "unknown":                     # not DEP-5: the licence's own heading in the text
        heading = re.search(r"^\s*([A-Z][A-Z .-]*LICEN[CS]E)\s*$", copyright_file.read_text(errors="replace"), re.M)
        licence = heading.group(1).strip().title() if heading else licence
    return target_row(file, f"{face.package} (Debian)", version, f"/{face.file} (face {face.index}: {face.name}){note}",
                      licence)


def write_cjk_glyphs(staging: Path, fonts: dict) -> list[dict]:
    """``glyphs.npz``: images (3755, faces, 32, 32), the characters and the faces' names."""
    from primps_core.data import glyphs
    characters = glyphs.gb2312_level1()
    images = np.stack([glyphs.render(fonts[face.package][0] / face.file, face.index, characters)
                       for face in glyphs.FACES], axis=1)
    np.savez_compressed(staging / "glyphs.npz", images=images, characters=np.array(characters),
                        faces=np.array([face.name for face in glyphs.FACES]))
    return [face_row(f"glyphs.npz:faces[{j}]", face, fonts) for j, face in enumerate(glyphs.FACES)]


def write_cjk_test_fonts(staging: Path, fonts: dict) -> list[dict]:
    """Each face cut down to the characters of ``CJK_TEST_CLASSES`` (outlines unchanged), as TTF."""
    from fontTools import subset
    from primps_core.data import glyphs
    characters = [glyphs.gb2312_level1()[k] for k in CJK_TEST_CLASSES]
    rows = []
    for j, face in enumerate(glyphs.FACES):
        options = subset.Options()
        options.font_number = face.index
        font = subset.load_font(str(fonts[face.package][0] / face.file), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[ord(c) for c in characters])
        subsetter.subset(font)
        name = f"{j}_{face.package}.ttf"
        subset.save_font(font, str(staging / name), options)
        rows.append(face_row(name, face, fonts, f", cut to GB2312 level-1 classes {list(CJK_TEST_CLASSES)}"))
    return rows


def build_cjk(data_dir: Path, tests_dir: Path) -> None:
    """``data/cjk-glyphs/`` and ``tests/data/cjk-fonts/`` from one download of the font packages."""
    with tempfile.TemporaryDirectory() as workdir:
        fonts = fetch_font_packages(Path(workdir))
        build(data_dir / "cjk-glyphs", lambda staging: write_cjk_glyphs(staging, fonts))
        build(tests_dir / "cjk-fonts", lambda staging: write_cjk_test_fonts(staging, fonts))


def write_sneakers(staging: Path) -> list[dict]:
    """``sneakers-100``: the first 100 Fashion-MNIST training images of class 7 (Sneaker)."""
    with tempfile.TemporaryDirectory() as workdir:
        root, version = fetch_debian_package("dataset-fashion-mnist", Path(workdir))
        folder = root / "usr/share/datasets/fashion-mnist"
        images, labels = read_idx(folder / "train-images-idx3-ubyte.gz"), read_idx(folder / "train-labels-idx1-ubyte.gz")
        licence = debian_licence(root / "usr/share/doc/dataset-fashion-mnist/copyright", "train-images-idx3-ubyte.gz")
    rows = []
    for index in np.flatnonzero(labels == FASHION_SNEAKER)[:100]:
        name = f"sneaker_{index:05d}.png"
        (staging / name).write_bytes(upscaled_png(images[index]))
        rows.append(target_row(name, "dataset-fashion-mnist (Debian)", version,
                               f"/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz[{index}]", licence))
    return rows


def square_png(image: Image.Image, fraction: float = 1.0) -> bytes:
    """The centred square of side ``fraction`` x the shorter side, RGB, Lanczos to 64x64, as PNG bytes."""
    image = image.convert("RGBA" if image.mode == "P" else image.mode).convert("RGB")
    side = round(fraction * min(image.size))
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    buffer = io.BytesIO()
    square.resize((TARGET_SIZE, TARGET_SIZE), Image.Resampling.LANCZOS).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def write_landscapes(staging: Path) -> list[dict]:
    """``landscapes``: the natural-landscape photographs of ``endless-sky-data``, centre square."""
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        root, version = fetch_debian_package(LANDSCAPE_PACKAGE, Path(workdir))
        copyright_file = root / "usr/share/doc" / LANDSCAPE_PACKAGE / "copyright"
        for path in sorted((root / LANDSCAPE_FOLDER).glob("*.jpg")):
            if path.name.startswith(LANDSCAPE_EXCLUDED):
                continue
            member = f"{LANDSCAPE_FOLDER}/{path.name}"
            stanza = debian_stanza(copyright_file, member.split("endless-sky/", 1)[1])
            with Image.open(path) as image:
                (staging / f"{path.stem}.png").write_bytes(square_png(image))
            licence, _, comment = stanza["License"].partition(" ")
            source = f": {comment.split('. ')[0].rstrip('.')}" if comment else ""          # where the stanza says it came from
            rows.append(target_row(f"{path.stem}.png", f"{LANDSCAPE_PACKAGE} (Debian)", version, "/" + member,
                                   f"{licence} ({stanza['Copyright']}){source}"))
    return rows


def stellarium_object_types(catalog: Path) -> dict[tuple[str, int], int]:
    """Object type of every deep-sky object of Stellarium's catalogue (``catalog.dat``, gzipped
    QDataStream, big-endian, format 3.16), by (catalogue, number) for M, NGC, IC, UGC and PGC.

    Each record: its id (u32), four doubles, the type (u32), the morphology (string), two doubles,
    a float, six doubles, then 29 designations (u32 numbers, or strings at the positions in
    ``strings``), in the order of ``names``."""
    data = gzip.decompress(catalog.read_bytes())
    names = ("NGC", "IC", "M", "C", "B", "Sh2", "VdB", "RCW", "LDN", "LBN", "Cr", "Mel", "PGC", "UGC", "Ced",
             "Arp", "VV", "PK", "PNG", "SNRG", "ACO", "HCG", "ESO", "VdBH", "DWB", "Tr", "St", "Ru", "VdBHa")
    strings = {14, 17, 18, 19, 20, 21, 22, 23}
    position = 0

    def number() -> int:
        nonlocal position
        position += 4
        return int.from_bytes(data[position - 4:position], "big")

    def text() -> str:
        nonlocal position
        length = number()
        if length in (0, 0xFFFFFFFF):
            return ""
        position += length
        return data[position - length:position].decode("utf-16-be")

    if (version := text()) != "3.16":
        raise SystemExit(f"{catalog}: catalogue format {version}, this reader knows 3.16")
    text()                                                    # the edition
    types, expected = {}, 1
    while position < len(data):
        if number() != expected:
            raise SystemExit(f"{catalog}: record {expected} is not where it should be")
        expected += 1
        position += 32
        kind = number()
        text()
        position += 68
        for k, name in enumerate(names):
            value = text() if k in strings else number()
            if value and name in ("M", "NGC", "IC", "UGC", "PGC"):
                types.setdefault((name, value), kind)
    return types


def write_galaxies(staging: Path) -> list[dict]:
    """``galaxies``: the images of ``stellarium-data`` whose object is a galaxy, with their credits."""
    prefixes = {"m": "M", "n": "NGC", "ic": "IC", "u": "UGC", "p": "PGC"}
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        root, version = fetch_debian_package(GALAXY_PACKAGE, Path(workdir))
        folder = root / GALAXY_FOLDER
        types = stellarium_object_types(folder / "catalog.dat")
        textures = (folder / "textures.json").read_text()
        credits = {file: json.loads(credit) for credit, file in re.findall(
            r'"imageCredits"\s*:\s*(\{[^}]*\})\s*,\s*"imageUrl"\s*:\s*"([^"]+)"', textures)}
        for path in sorted(folder.glob("*.png")):
            match = re.match(r"(ic|m|n|u|p)(\d+)", path.name)
            kind = types.get((prefixes[match[1]], int(match[2]))) if match else None
            if kind not in GALAXY_TYPES:
                continue
            credit = {key.lower(): value for key, value in credits[path.name].items()}
            with Image.open(path) as image:
                (staging / path.name).write_bytes(square_png(image, GALAXY_CROP))
            rows.append(target_row(path.name, f"{GALAXY_PACKAGE} (Debian)", version, f"/{GALAXY_FOLDER}/{path.name}",
                                   f"GPL-2+ (stellarium-data); image credit: {credit['short']}"
                                   + (f", {credit['infourl']}" if credit.get("infourl") else "")))
    return rows


def build_targets(targets_dir: Path) -> dict[str, int]:
    """Build every embedded target under ``targets_dir``; return the image count of each."""
    counts = {"faces-100": build(targets_dir / "faces-100", write_faces),
              "sneakers-100": build(targets_dir / "sneakers-100", write_sneakers),
              "landscapes": build(targets_dir / "landscapes", write_landscapes),
              "galaxies": build(targets_dir / "galaxies", write_galaxies)}
    with tempfile.TemporaryDirectory() as workdir:
        root, version = fetch_npm_package(EMOJI_PACKAGE, Path(workdir))
        for name, category in EMOJI_CATEGORIES.items():
            counts[name] = build(targets_dir / name, lambda staging: write_emoji(category, root, version, staging))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument("--only", choices=["photos", "targets", "fashion-mnist", "cjk-glyphs"], default=None)
    args = parser.parse_args()
    if args.only in (None, "photos"):
        print(f"wrote {build(args.data / 'photos', write_photos)} photos")
    if args.only in (None, "targets"):
        for name, count in build_targets(args.data / "targets").items():
            print(f"wrote {count} images to targets/{name}")
    if args.only in (None, "fashion-mnist"):
        build(args.data / "fashion-mnist", write_fashion_mnist)
        print("wrote fashion-mnist/fashion-mnist.npz")
    if args.only in (None, "cjk-glyphs"):
        build_cjk(args.data, TESTS_DIR)
        print("wrote cjk-glyphs/glyphs.npz and tests/data/cjk-fonts/")


if __name__ == "__main__":
    main()
