"""The model catalog: every model file FluxKit's workflows, downloader, demo and test models name — its published
file name, the ComfyUI models sub-folder it goes in, the hub repositories that publish it, size and sha256, and the
download presets (`models.json`, read through `model_files`). Data and the standard library only: the lowest layer,
which every other package may import."""
