"""The GAN: generator and discriminator (``models``), DiffAugment (``augment``) and one training loop
for pretraining and transfer with EMA, lazy R1, resume and data-parallel processes (``training``)."""
