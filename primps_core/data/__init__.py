"""Data in and out: image sets on disk (``images``), the embedded photographs and the study's splits
(``photos``), what a run reads named once as a ``DataRef`` (``sources``), and synthetic datasets
written to disk in shards (``export``)."""
