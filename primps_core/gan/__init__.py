"""The GAN: generator and discriminator (``models``), DiffAugment (``augment``), CTF-GAN's
class-conditional parts (``ctf``), images in and out of a generator (``sampling``), and one training
loop for pretraining, transfer and class-conditional runs with EMA, lazy R1, resume and
data-parallel processes (``training``)."""
