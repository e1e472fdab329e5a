"""Differentially private image synthesis (notebook 07): the privacy budget and opacus' DP-SGD
(``privacy``), one training loop charging every step (``training``), a small class-conditional
diffusion model (``diffusion``), the GAN with a DP discriminator (``dpgan``) and PrivImage's DP
semantic query (``semantic``), which uses ``eval.classifier``."""
