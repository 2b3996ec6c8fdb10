"""The picture a student uploads in notebook 5, as the network gets it."""

import io

import numpy as np
import pytest
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


def test_the_mistake_browser_shows_the_commonest_mistake_most_confident_first(capsys):
    """Cats taken for dogs three times (dog 0.6, 0.9, 0.75 sure), a dog taken for a cat once, more surely:
    headless, the browser shows the cats, the surest first, with the true class green and the guess red."""
    import matplotlib.colors
    import matplotlib.pyplot as plt

    from cifar_helpers import CLASSES
    from cifar_helpers.lesson.widgets import mistake_browser

    cat, dog, bird = CLASSES.index("cat"), CLASSES.index("dog"), CLASSES.index("bird")
    labels = np.array([cat, cat, dog, bird, cat, bird, cat, cat])
    sure = {1: (dog, 0.6), 4: (dog, 0.9), 6: (dog, 0.75), 2: (cat, 0.95), 7: (bird, 0.5)}  # the mistakes
    probabilities = np.full((len(labels), 10), 0.01)
    for i, label in enumerate(labels):
        guess, p = sure.get(i, (label, 0.9))
        probabilities[i, guess] = p
    images = np.stack([np.full((32, 32, 3), i, np.uint8) for i in range(len(labels))])  # image i is all i
    mistake_browser(images, probabilities, labels, CLASSES)
    assert capsys.readouterr().out == "(headless: showing the commonest mistake, cat taken for dog)\n"
    fig = plt.figure(plt.get_fignums()[-1])
    assert fig._suptitle.get_text() == "3 test images of cat taken for dog"
    pictures, bars = fig.axes[0::2], fig.axes[1::2]
    assert [ax.get_title() for ax in pictures] == ["test image 4", "test image 6", "test image 1"]
    assert [int(ax.images[0].get_array()[0, 0, 0]) for ax in pictures] == [4, 6, 1]
    for ax, index in zip(bars, (4, 6, 1)):
        assert [bar.get_width() for bar in ax.patches] == pytest.approx(probabilities[index])
        colours = [matplotlib.colors.to_hex(bar.get_facecolor()) for bar in ax.patches]
        assert colours[cat] == matplotlib.colors.to_hex("tab:green") and colours[dog] == matplotlib.colors.to_hex(
            "tab:red")
        assert {colour for i, colour in enumerate(colours) if i not in (cat, dog)} == {
            matplotlib.colors.to_hex("tab:gray")}
