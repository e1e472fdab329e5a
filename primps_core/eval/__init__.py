"""Measurements: power spectra and their slopes (``spectrum``), FID / KID / precision-recall with the
standard Inception network (``metrics``), membership-inference attacks and their ROC statistics
(``membership``), and tables over many transfer runs (``transfer_tables``)."""
