"""Pure-torch core of ComfyUI-FluxKit.

Everything here depends only on torch, safetensors and einops: never on ComfyUI (`comfy`, `folder_paths`,
`server`, `nodes`). Node classes in `nodes/` adapt ComfyUI types to these functions.
"""
