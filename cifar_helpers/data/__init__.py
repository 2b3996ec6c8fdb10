"""CIFAR-10 as arrays and batches: sources and cache, DataSet, AsyncDataLoader, augmentation, normalisation."""
