"""Headless batches of FluxKit workflows that never lose a job: the items of a folder or CSV, a manifest of what is
finished (on disk, atomically), jobs run on one ComfyUI, many (least busy first, a dead one's items moved) or a Ray
cluster's workers, and one progress display. The command line is `python -m fluxkit_tools.client batch`."""
