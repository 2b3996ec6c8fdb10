"""The bottom layer: value checks with one-line errors, the device, seeds, atomic writes, who is watching."""
