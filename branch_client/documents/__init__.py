"""A document at the terminal: :mod:`.flow` runs one capture, from the specialist's request to
the corrected page on the hub, using the document camera (:mod:`branch_client.devices`) and the
pure scan pipeline (:mod:`branch_client.scan`)."""
