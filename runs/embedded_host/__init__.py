"""A conventional SAM-based CGE host that embeds :class:`cge.HeterogeneousFirmSector`."""
