"""Data in and out: image sets on disk (``images``), the embedded photographs and the study's splits
(``photos``), what a run reads named once as a ``DataRef`` (``sources``), synthetic datasets
written to disk in shards (``export``), Fashion-MNIST (``fashion``), the CJK glyphs (``glyphs``)
and notebook 08's per-class image sources (``class_sources``)."""
