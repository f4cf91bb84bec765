"""Maps and inputs as 8-bit pictures, and their PNG files.

The display follows `kv.render`: an RGB map `(H, W, 3)` is min–max
normalized jointly over its pixels and channels (the paper's display), a
one-channel map is the same in gray, a map of any other channel count is
Σ_c |s| over its 99th percentile (Adebayo et al.), and a Grad-CAM map
`(H, W)` is divided by its maximum and coloured with `names.CAM_COLORMAP`.
Values that are not finite (a float16 overflow, NaN rows of failed inputs)
never spread: the range comes from the finite values only, and a map with
none is no picture (`None`).
"""

from __future__ import annotations

import io
import os

import numpy as np

from kerasviz import names


def _finite_range(m: np.ndarray) -> tuple[float, float] | None:
    finite = m[np.isfinite(m)]
    if finite.size == 0:
        return None
    return float(finite.min()), float(finite.max())


def map_to_pixels(m: np.ndarray) -> np.ndarray | None:
    """One map as uint8 pixels: `(H, W, 3)` or gray `(H, W)`; `None` when it has no finite value.

    Args:
        m: a map `(H, W, C)` or a CAM `(H, W)`.

    Returns:
        uint8 pixels, or `None`.
    """
    m = np.asarray(m, dtype=np.float32)
    bounds = _finite_range(m)
    if bounds is None:
        return None
    lo, hi = bounds
    m = np.nan_to_num(m, nan=lo, posinf=hi, neginf=lo)
    if m.ndim == 2:
        import matplotlib

        cam = np.maximum(m, 0.0)
        top = float(cam.max())
        shown = cam / top if top > 0 else np.zeros_like(cam)
        rgb = matplotlib.colormaps[names.CAM_COLORMAP](shown)[..., :3]
        return _to_uint8(rgb)
    if m.shape[-1] in (1, 3):
        shown = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
        return _to_uint8(shown[..., 0] if m.shape[-1] == 1 else shown)
    s = np.abs(m).sum(axis=-1)
    scale = float(np.percentile(s, 99)) or float(s.max())
    return _to_uint8(np.clip(s / scale, 0, 1) if scale > 0 else np.zeros_like(s))


def image_to_pixels(image: np.ndarray) -> np.ndarray:
    """An input image of any scale as uint8 pixels (joint min–max, like `kv.render.display_image`)."""
    image = np.asarray(image, dtype=np.float32)
    bounds = _finite_range(image)
    lo, hi = bounds if bounds is not None else (0.0, 0.0)
    image = np.nan_to_num(image, nan=lo, posinf=hi, neginf=lo)
    shown = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    if shown.ndim == 3 and shown.shape[-1] == 1:
        shown = shown[..., 0]
    elif shown.ndim == 3 and shown.shape[-1] != 3:
        shown = shown.mean(axis=-1)
    return _to_uint8(shown)


def load_input(path: str, size: tuple[int, int]) -> np.ndarray | None:
    """The image file `path` fitted to `size` (H, W) as the job fits it (center crop, resize); `None` if unreadable."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            fitted = ImageOps.fit(image, (size[1], size[0]), method=Image.Resampling.BILINEAR)
    except Exception:  # noqa: BLE001 - PIL raises many types for broken files: no picture, the maps still show
        return None
    return np.asarray(fitted)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.round(np.clip(values, 0.0, 1.0) * 255).astype(np.uint8)


def fit_pixels(pixels: np.ndarray, longest: int) -> np.ndarray:
    """`pixels` shrunk (never enlarged) so that its longer side is at most `longest`."""
    from PIL import Image

    height, width = pixels.shape[:2]
    scale = min(1.0, longest / max(height, width))
    if scale == 1.0:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BOX))


def png_bytes(pixels: np.ndarray) -> bytes:
    """`pixels` (uint8, gray or RGB) as PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_png(path: str, pixels: np.ndarray) -> None:
    """Write `pixels` to `path` as PNG, atomically (a killed write leaves no half file)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.{os.getpid()}.partial"  # the store removes *.partial files a killed job leaves
    with open(partial, "wb") as file:
        file.write(png_bytes(pixels))
    os.replace(partial, path)
