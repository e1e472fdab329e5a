"""Measurements and decisions: power spectra and their slopes (``spectrum``), FID / KID /
precision-recall with the standard Inception network (``metrics``), per-image statistics and
two-sample tests between image sets (``fidelity``), the small classifier that scores class accuracy
(``classifier``), membership-inference attacks and their ROC statistics (``membership``), tables
over many transfer runs (``transfer_tables``), and the one claims engine every study decides
through (``claims``)."""
