"""Everything that leaves the building: webhook fan-out, delivery, signing (see issue 5)."""
