"""The picture a student uploads in notebook 5, as the network gets it."""

import io

import numpy as np
from PIL import Image

from cifar_helpers.lesson.widgets import to_network_input


def encoded(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, **options)
    return buffer.getvalue()


def test_the_middle_square_is_shrunk_to_32_by_32():
    pixels = np.zeros((60, 120, 3), dtype=np.uint8)  # wide: red side bands, a green middle square
    pixels[:, :30] = pixels[:, 90:] = (255, 0, 0)
    pixels[:, 30:90] = (0, 255, 0)
    out = to_network_input(Image.fromarray(pixels))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert (out[..., 1] > 250).all() and (out[..., 0] < 5).all(), "only the green middle square is kept"


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation():
    """Stored sideways (sky on the left) with Orientation 6: viewers turn it so that the sky is on top."""
    stored = np.zeros((64, 64, 3), dtype=np.uint8)
    stored[:, :32] = (80, 160, 255)   # sky, on the left as stored
    stored[:, 32:] = (40, 120, 40)    # grass
    exif = Image.Exif()
    exif[0x0112] = 6                  # Orientation: rotate 90 degrees clockwise to view
    out = to_network_input(encoded(Image.fromarray(stored), exif=exif.tobytes())).astype(int)
    assert abs(out[:12].mean(axis=(0, 1)) - (80, 160, 255)).max() < 12, "sky on top"
    assert abs(out[-12:].mean(axis=(0, 1)) - (40, 120, 40)).max() < 12, "grass below"
    plain = to_network_input(encoded(Image.fromarray(stored))).astype(int)
    assert abs(plain[:, :12].mean(axis=(0, 1)) - (80, 160, 255)).max() < 12, "no tag: as stored"
