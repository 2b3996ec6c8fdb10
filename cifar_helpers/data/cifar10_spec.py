"""What a copy of CIFAR-10 holds: the ten class names in label order, the two splits, and the
errors raised when a copy is missing or not laid out as expected."""

CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
SPLITS = ("train", "test")


class DataNotFoundError(FileNotFoundError):
    """CIFAR-10 is neither in the data folder nor downloadable."""


class DataFormatError(ValueError):
    """A local copy of CIFAR-10 is there but is not laid out as expected, or is damaged."""
