"""primps: GAN pretraining on generic, privacy-free synthetic images (Primitives-PS) and its
transfer to low-shot targets, as a reproducible study. See README.md."""
__version__ = "0.1.0"
