"""Differentially private image synthesis (notebook 07): the privacy budget and opacus' DP-SGD
(``privacy``), a small class-conditional diffusion model (``diffusion``), the GAN with a DP
discriminator (``dpgan``), PrivImage's DP semantic query (``semantic``) and the small classifier
both the query and the downstream-accuracy score use (``classifier``)."""
