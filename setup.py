"""Packaging for kerasviz."""

from setuptools import find_packages, setup

setup(
    name="kerasviz",
    version="0.1.0",
    description=(
        "Saliency, DeconvNet and Guided Backprop maps for Keras models, "
        "and the metrics that tell whether to trust them."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["kerasviz", "kerasviz.*"]),
    package_data={"kerasviz": ["weights/*.weights.h5", "weights/*.json", "view/static/*"]},
    include_package_data=True,
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        "numpy",
        "scipy",
        "matplotlib",
        "scikit-image",
        "tensorboard",
        "tqdm",
        "zarr>=3",
        "pandas",
        "pillow",
        "markdown",
    ],
    extras_require={
        "test": ["pytest", "hypothesis", "mkdocs", "mkdocstrings[python]", "ray[data]", "playwright", "xarray", "dask",
                 "scikit-learn"],
        "ray": ["ray[data]"],
        "docs": ["mkdocs", "mkdocstrings[python]"],
        "examples": ["scikit-learn"],  # the tables of examples/planted_evidence.py
    },
    entry_points={"console_scripts": ["kerasviz=kerasviz.cli:main"]},
)
