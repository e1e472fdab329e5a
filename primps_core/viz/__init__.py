"""Pictures: figure helpers shared by the notebooks (``plots``) and the interactive synthesizer
explorer (``widgets``)."""
