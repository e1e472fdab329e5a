"""The study: cached stages and jobs (``pipeline``), the training runs (``runs``) and their
scheduling on this machine or a Dask cluster (``scheduler``); one module per notebook, named after
it and offering the same verbs (``plan``, ``rows``, ``DESIGN``, ``claims`` where a design is
registered): ``spectrum_analysis`` 01, ``synthesizer`` 02 (with ``fidelity``), ``pretraining`` 03,
``transfer`` 04 (with ``decisive``, the decisive experiment, and ``design``, its registered design),
``ablations`` 05, ``membership_inference`` 06, ``dp_synthesis`` 07 (with ``dp_stages``),
``many_classes`` 08 (with ``many_classes_parts``); the key-number tables they end with (``tables``),
executing the notebooks (``reproduce``) and the README's generated tables (``readme``)."""
