"""Datasets: MNIST / Fashion-MNIST (IDX), CIFAR-10 (python pickle batches), image folders (dir or .zip).

Every loader returns an :class:`ImageDataset` (uint8 NCHW images, int64 labels). ``load_dataset`` finds the
files in ``data_dir``, ``$EXPLAINLAB_DATA`` or the user cache, downloads and verifies them when asked, and
otherwise raises DataNotFoundError saying which files go where. Synthetic data is for tests only and is
never substituted for a missing dataset.
"""

from __future__ import annotations

from explainlab.data.cifar_pickle import CIFAR10_CLASSES, RestrictedUnpickler, load_cifar_pickle
from explainlab.data.dataset import ImageDataset, label_histogram
from explainlab.data.download import download_dataset
from explainlab.data.idx import read_idx
from explainlab.data.image_folder import load_image_folder
from explainlab.data.resolve import data_roots, default_data_root, describe_data, load_dataset
from explainlab.data.specs import DATASETS, DOWNLOADS, DatasetSpec, RemoteFile, get_spec
from explainlab.data.synthetic import synthetic_dataset

__all__ = [
    "CIFAR10_CLASSES",
    "DATASETS",
    "DOWNLOADS",
    "DatasetSpec",
    "ImageDataset",
    "RemoteFile",
    "RestrictedUnpickler",
    "data_roots",
    "default_data_root",
    "describe_data",
    "download_dataset",
    "get_spec",
    "label_histogram",
    "load_cifar_pickle",
    "load_dataset",
    "load_image_folder",
    "read_idx",
    "synthetic_dataset",
]
