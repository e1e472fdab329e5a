"""Chinese characters as a many-class image dataset (notebook 08): the 3,755 GB2312 level-1
characters, the classes of CASIA-HWDB1.0, rendered from the CJK fonts of Debian's packages.

``data/cjk-glyphs/glyphs.npz`` is built by ``scripts/build_data.py --only cjk-glyphs``: every
character drawn by every face of ``FACES`` with ``render`` (white strokes on black, ``SIZE`` px,
the outline's box centred, unhinted, exact-coverage anti-aliasing), class ``k`` being the ``k``-th
character in GB2312 code order (``gb2312_level1``). The faces differ in style (sans, Song/Ming,
Kai brush, a heavy Hei), which is the within-class variation the fonts give; ``high_quality``
adds the rest, seeded: a small random affine change and a stroke weight. ``low_quality`` degrades
images the way CTF-GAN's low-quality set is worse than its high-quality one, seeded: always a blur
and a down-and-up sampling (lost resolution), then each of noise, JPEG compression and a partial
occlusion with probability one half. Each face's package, version and licence are in the folder's
``PROVENANCE.csv``.

A face that lacks a character would silently draw its placeholder box; ``render`` refuses it
instead, naming the font and the first missing characters.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import checks, paths
from .images import read_embedded_arrays

GLYPHS_FILE = paths.DATA_DIR / "cjk-glyphs" / "glyphs.npz"
ROTATION_DEGREES = 6.0   # high-quality variation: rotation in +-6 degrees,
SCALE = (0.9, 1.05)      # scale,
SHEAR = 0.12             # horizontal shear,
SHIFT = 1.5              # translation in +-1.5 px, and a stroke weight: thinner, unchanged or bolder
BLUR_SIGMA = (0.4, 0.8)  # low-quality degradation: Gaussian blur (px),
DOWN_FACTOR = (2, 2)     # down-and-up sampling factor (bilinear): 32 px carry 16 px of detail,
NOISE_SIGMA = (5, 15)    # Gaussian noise (grey levels),
JPEG_QUALITY = (30, 60)  # JPEG quality,
OCCLUDED = (0.1, 0.2)    # occluded fraction of the square (a black rectangle)
SIZE = 32                # px of the stored glyphs
EM = 28                  # font size in px: the widest glyphs fill the square with a two-pixel margin


@dataclass(frozen=True)
class Face:
    """One font face of a Debian package: the file inside the package and its index in a collection."""
    package: str
    file: str
    index: int
    name: str


FACES = (
    Face("fonts-droid-fallback", "usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0, "Droid Sans Fallback"),
    Face("fonts-arphic-gbsn00lp", "usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf", 0, "AR PL SungtiL GB"),
    Face("fonts-arphic-gkai00mp", "usr/share/fonts/truetype/arphic-gkai00mp/gkai00mp.ttf", 0, "AR PL KaitiM GB"),
    Face("fonts-arphic-uming", "usr/share/fonts/truetype/arphic/uming.ttc", 0, "AR PL UMing CN"),
    Face("fonts-arphic-ukai", "usr/share/fonts/truetype/arphic/ukai.ttc", 0, "AR PL UKai CN"),
    Face("fonts-wqy-zenhei", "usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, "WenQuanYi Zen Hei"),
)


@functools.cache
def gb2312_level1() -> tuple[str, ...]:
    """The 3,755 level-1 characters of GB2312 in code order: rows 0xB0-0xD7, cells 0xA1-0xFE, the
    last row ending at 0xD7F9."""
    return tuple(bytes([row, cell]).decode("gb2312")
                 for row in range(0xB0, 0xD8) for cell in range(0xA1, 0xFF) if (row, cell) <= (0xD7, 0xF9))


def _face(font: Path, index: int):
    from matplotlib.ft2font import FT2Font
    font = Path(font)
    if not font.is_file():
        raise FileNotFoundError(f"font {font} does not exist")
    try:
        return FT2Font(str(font), face_index=index)
    except (OSError, RuntimeError, ValueError) as error:
        raise ValueError(f"{font} (face {index}) is not a readable font: {error}") from None


def render(font: Path, index: int, characters, size: int = SIZE, em: int = EM) -> np.ndarray:
    """uint8 (N, size, size): each character of face ``index`` of ``font`` at ``em`` px, white on
    black, its outline's box centred. The outline is read unhinted and filled with exact coverage
    (matplotlib's FreeType and Agg, both pinned with matplotlib), so a glyph's pixels depend on its
    outline alone: a font cut down to a few glyphs draws them exactly as the whole font does. An
    error naming the font when the face lacks any of the characters or cannot be read."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.ft2font import LoadFlags
    from matplotlib.path import Path as Outline
    from matplotlib.transforms import Affine2D
    size, em = checks.integer(size, "size", 8), checks.integer(em, "em", 4)
    face = _face(font, index)
    absent = [c for c in characters if face.get_char_index(ord(c)) == 0]
    if absent:
        listed = ", ".join(f"{c} (U+{ord(c):04X})" for c in absent[:5])
        raise ValueError(f"{font} (face {index}) has no glyph for {len(absent)} of the {len(characters)} characters "
                         f"asked for, first: {listed}")
    face.set_size(em, 72)                                   # 72 dpi: one point is one pixel
    out = np.zeros((len(characters), size, size), np.uint8)
    for k, character in enumerate(characters):
        face.load_char(ord(character), flags=LoadFlags.NO_HINTING)
        outline = Outline(*face.get_path())
        box = outline.get_extents()
        centred = Affine2D().translate(size / 2 - (box.x0 + box.x1) / 2, size / 2 - (box.y0 + box.y1) / 2)
        canvas = RendererAgg(size, size, 72)
        pen = canvas.new_gc()
        pen.set_antialiased(True)
        pen.set_linewidth(0)
        canvas.draw_path(pen, outline, centred, rgbFace=(1, 1, 1))
        out[k] = np.asarray(canvas.buffer_rgba())[:, :, 3]
    return out


def high_quality(glyph_images: np.ndarray, classes, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` clean images of each of ``classes`` (indices into ``glyph_images``, which is
    (classes, faces, S, S)): each a random face, a small random affine change about the centre and
    a random stroke weight (grey erosion, none or dilation, 2x2). uint8 (N, S, S) and labels: the
    position of the class in ``classes``; the same arguments give the same bytes."""
    from scipy import ndimage
    classes = np.asarray(classes)
    per_class = checks.integer(per_class, "per_class", 1)
    rng = np.random.default_rng(seed)
    n, side = len(classes) * per_class, glyph_images.shape[-1]
    labels = np.repeat(np.arange(len(classes)), per_class)
    faces = rng.integers(0, glyph_images.shape[1], n)
    angle = np.deg2rad(rng.uniform(-ROTATION_DEGREES, ROTATION_DEGREES, n))
    scale, shear = rng.uniform(*SCALE, n), rng.uniform(-SHEAR, SHEAR, n)
    shift, weight = rng.uniform(-SHIFT, SHIFT, (n, 2)), rng.integers(-1, 2, n)
    centre = (side - 1) / 2
    out = np.empty((n, side, side), np.uint8)
    for i in range(n):
        forward = scale[i] * np.array([[np.cos(angle[i]), -np.sin(angle[i])], [np.sin(angle[i]), np.cos(angle[i])]]) \
            @ np.array([[1.0, 0.0], [shear[i], 1.0]])                 # (row, col): the shear slants columns
        inverse = np.linalg.inv(forward)
        offset = centre - inverse @ (centre + shift[i])
        image = ndimage.affine_transform(glyph_images[classes[labels[i]], faces[i]].astype(np.float32), inverse,
                                         offset=offset, order=1, mode="constant", cval=0.0)
        if weight[i]:
            morph = ndimage.grey_dilation if weight[i] > 0 else ndimage.grey_erosion
            image = 0.5 * image + 0.5 * morph(image, size=(2, 2))      # half a pixel bolder or thinner
        out[i] = np.clip(np.rint(image), 0, 255)
    return out, labels


def low_quality(images: np.ndarray, seed: int) -> np.ndarray:
    """The images degraded (uint8 (N, S, S) in and out): a Gaussian blur and a bilinear down-and-up
    sampling always, then Gaussian noise, JPEG compression and a black rectangle each with
    probability one half, strengths drawn from the module's ranges. Image i depends only on (seed, i)."""
    import io

    from PIL import Image
    from scipy import ndimage
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"images must be uint8 (N, S, S), got {images.dtype} {images.shape}")
    out = np.empty_like(images)
    side = images.shape[-1]
    for i, image in enumerate(images):
        rng = np.random.default_rng([seed, i])
        x = ndimage.gaussian_filter(image.astype(np.float32), rng.uniform(*BLUR_SIGMA))
        small = max(2, round(side / rng.integers(DOWN_FACTOR[0], DOWN_FACTOR[1] + 1)))
        x = np.asarray(Image.fromarray(x).resize((small, small), Image.BILINEAR).resize((side, side), Image.BILINEAR))
        noise, jpeg, occlude = rng.random(3) < 0.5
        if noise:
            x = x + rng.normal(0.0, rng.uniform(*NOISE_SIGMA), x.shape)
        x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        if jpeg:
            buffer = io.BytesIO()
            Image.fromarray(x).save(buffer, "JPEG", quality=int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)))
            x = np.asarray(Image.open(buffer).convert("L"))
        if occlude:
            area = rng.uniform(*OCCLUDED) * side * side
            height = int(np.clip(round(np.sqrt(area) * rng.uniform(0.7, 1.4)), 1, side))
            width = int(np.clip(round(area / height), 1, side))
            top, left = rng.integers(0, side - height + 1), rng.integers(0, side - width + 1)
            x = x.copy()
            x[top:top + height, left:left + width] = 0
        out[i] = x
    return out


def load_glyphs(path: Path | None = None) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """(images uint8 (classes, faces, SIZE, SIZE), the characters of the classes, the faces' names);
    one clear error for a missing, corrupt or malformed file."""
    images, characters, faces = _read(Path(path or GLYPHS_FILE))
    return images.copy(), characters, faces


@functools.lru_cache(maxsize=2)
def _read(path: Path) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    images, characters, faces = read_embedded_arrays(path, ("images", "characters", "faces"),
                                                     "python scripts/build_data.py --only cjk-glyphs")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[2:] != (SIZE, SIZE):
        raise ValueError(f"{path}: images must be uint8 (classes, faces, {SIZE}, {SIZE}), got {images.dtype} {images.shape}")
    if characters.shape != images.shape[:1] or faces.shape != images.shape[1:2]:
        raise ValueError(f"{path}: one character per class and one face name per face expected, got "
                         f"{characters.shape[0]} characters and {faces.shape[0]} faces for images {images.shape}")
    images.setflags(write=False)
    return images, tuple(str(c) for c in characters), tuple(str(f) for f in faces)
