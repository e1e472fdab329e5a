"""The study: cached stages (``pipeline``), the training runs and their scheduling (``runs``), one
module per notebook named after it (``spectrum_analysis`` 01, ``synthesizer`` 02, ``pretraining``
03, ``transfer`` 04, ``ablations`` 05, ``privacy`` 06), the key-number tables they end with
(``tables``), executing the notebooks (``reproduce``) and the README's generated tables (``readme``)."""
