"""The dataset registry: names, classes, mean/std, shapes, file names, and one table of official URLs + sha256.

Checksums and their sources:
- MNIST: sha256 of the DECOMPRESSED IDX content (robust to re-gzipping; listed in shared/data/README.md and
  matching the original files), so every mirror below is acceptable.
- Fashion-MNIST: sha256 and byte size of the official ``.gz`` files as recorded by TensorFlow Datasets
  (tensorflow/datasets, ``tensorflow_datasets/url_checksums/fashion_mnist.txt``); other public projects pair
  the same sha256 with the official MD5 sums of the Fashion-MNIST README, whose sizes (26 MB, 29 KB, 4.3 MB,
  5.1 KB) also agree.
- CIFAR-10: sha256 of ``cifar-10-python.tar.gz`` (the official python-version tarball).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explainlab.data.cifar_pickle import CIFAR10_CLASSES, TEST_BATCHES, TRAIN_BATCHES
from explainlab.errors import UnknownNameError


@dataclass(frozen=True)
class RemoteFile:
    """One official download: ``hashed`` is "file" (sha256 of the bytes) or "content" (of the gunzipped IDX)."""

    filename: str
    urls: tuple[str, ...]
    sha256: str
    hashed: str = "file"
    size: int | None = None


_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_FASHION_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def _mnist(filename: str, sha256: str) -> RemoteFile:
    return RemoteFile(filename, tuple(m + filename for m in _MNIST_MIRRORS), sha256, hashed="content")


def _fashion(filename: str, sha256: str, size: int) -> RemoteFile:
    return RemoteFile(filename, tuple(m + filename for m in _FASHION_MIRRORS), sha256, hashed="file", size=size)


# The one table of official downloads.
DOWNLOADS: dict[str, tuple[RemoteFile, ...]] = {
    "mnist": (
        _mnist("train-images-idx3-ubyte.gz", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        _mnist("train-labels-idx1-ubyte.gz", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        _mnist("t10k-images-idx3-ubyte.gz", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        _mnist("t10k-labels-idx1-ubyte.gz", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ),
    "fashion_mnist": (
        _fashion(
            "train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880
        ),
        _fashion(
            "train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515
        ),
        _fashion(
            "t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102
        ),
        _fashion("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
    ),
    "cifar10": (
        RemoteFile(
            "cifar-10-python.tar.gz",
            (_CIFAR_URL,),
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            size=170498071,
        ),
    ),
}

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True, eq=False)
class DatasetSpec:
    """What the library knows about one dataset before reading it."""

    name: str
    title: str
    format: str  # "idx" or "cifar"
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_shape: tuple[int, int, int]
    counts: dict[str, int]
    dirs: tuple[str, ...]  # sub-folders of a data root that may hold the files, in search order
    files: dict[str, tuple[str, ...]]  # split -> file names (IDX: without .gz; both forms are accepted)
    citation: str
    remote: tuple[RemoteFile, ...] = field(default=())

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.files)


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST",
        format="idx",
        classes=tuple(str(i) for i in range(10)),
        mean=(0.1307,),
        std=(0.3081,),
        input_shape=(1, 28, 28),
        counts={"train": 60000, "test": 10000},
        dirs=("mnist", "MNIST/raw", "MNIST"),
        files=_IDX_FILES,
        citation="Y. LeCun, C. Cortes, C. J. C. Burges: The MNIST database of handwritten digits (1998)",
        remote=DOWNLOADS["mnist"],
    ),
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        title="Fashion-MNIST",
        format="idx",
        classes=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        mean=(0.2860,),
        std=(0.3530,),
        input_shape=(1, 28, 28),
        counts={"train": 60000, "test": 10000},
        dirs=("fashion-mnist", "fashion_mnist", "FashionMNIST/raw", "FashionMNIST", "fashion-mnist-partial"),
        files=_IDX_FILES,
        citation="H. Xiao, K. Rasul, R. Vollgraf: Fashion-MNIST, arXiv:1708.07747 (2017)",
        remote=DOWNLOADS["fashion_mnist"],
    ),
    "cifar10": DatasetSpec(
        name="cifar10",
        title="CIFAR-10",
        format="cifar",
        classes=CIFAR10_CLASSES,
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616),
        input_shape=(3, 32, 32),
        counts={"train": 50000, "test": 10000},
        dirs=("", "cifar10"),
        files={"train": TRAIN_BATCHES, "test": TEST_BATCHES},
        citation="A. Krizhevsky: Learning Multiple Layers of Features from Tiny Images, tech. report (2009)",
        remote=DOWNLOADS["cifar10"],
    ),
}

_ALIASES = {"fashionmnist": "fashion_mnist", "fmnist": "fashion_mnist", "cifar_10": "cifar10", "cifar": "cifar10"}


def canonical_name(name: str) -> str:
    """``"Fashion-MNIST"`` -> ``"fashion_mnist"``; unknown names raise UnknownNameError listing the valid ones."""
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in DATASETS and key != "image_folder":
        raise UnknownNameError("dataset", name, [*DATASETS, "image_folder"])
    return key


def get_spec(name: str) -> DatasetSpec:
    """The spec of a named dataset (aliases like "fashion-mnist" and "cifar-10" accepted)."""
    key = canonical_name(name)
    if key == "image_folder":
        raise UnknownNameError("dataset spec", name, list(DATASETS))
    return DATASETS[key]
