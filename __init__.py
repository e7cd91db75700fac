"""ComfyUI-FluxKit: fast, controllable FLUX.1-dev inpainting for ComfyUI.

ComfyUI imports this package and calls `comfy_entrypoint()` (V3 registration). Outside ComfyUI (tests of
`flux_core`, command-line tools) the import guard keeps this file importable without `comfy_api`.
"""

WEB_DIRECTORY = "./js"

try:
    import comfy_api.latest  # noqa: F401
except ImportError:  # not running inside ComfyUI
    pass
else:
    from .nodes import comfy_entrypoint  # noqa: F401
