"""Qwen2-VL image understanding as Qwen2VL-Flux uses it, through Hugging Face `transformers`.

One user message [image, "Describe this image."] in the model's chat template with the generation prompt; the
image is resized by the processor to a fixed pixel budget (256·28·28 with a text prompt, 512·28·28 without, so
≈256 or ≈512 merged tokens; aspect ratio kept). The model runs without its LM head and the last hidden states
(after the final RMSNorm) are kept at the image-token positions only: [1, N, hidden] with N = h·w of the merged
token grid, row-major. Attention is causal and the image precedes the instruction, so the instruction cannot change
these states (only the system prompt before the image can); it is kept for fidelity with the reference.

`transformers` is imported lazily (ComfyUI already depends on it; flux_core itself stays torch-only to import).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import FluxKitError
from .safetensors_io import read_safetensors_header

INSTRUCTION = "Describe this image."
PIXELS_WITH_PROMPT = 256 * 28 * 28
PIXELS_WITHOUT_PROMPT = 512 * 28 * 28


@dataclass
class Qwen2VL:
    """A loaded Qwen2-VL: the `Qwen2VLForConditionalGeneration` (its `.model` is used, no LM head) and processor."""

    model: torch.nn.Module
    processor: object
    path: str

    @property
    def hidden_size(self) -> int:
        cfg = self.model.config
        return getattr(cfg, "hidden_size", None) or cfg.text_config.hidden_size


DOWNLOAD_HINT = (
    "download Qwen/Qwen2-VL-7B-Instruct (e.g. `huggingface-cli download Qwen/Qwen2-VL-7B-Instruct --local-dir "
    "ComfyUI/models/qwen2vl/Qwen2-VL-7B-Instruct`)"
)
OTHER_MODEL_TYPES = {"qwen2_5_vl": "Qwen2.5-VL", "qwen2": "a text-only Qwen2", "qwen2_audio": "Qwen2-Audio"}
# transformers 4.x saves the image processor as preprocessor_config.json, 5.x as processor_config.json
REQUIRED_FILES = {"weights (*.safetensors)": "*.safetensors",
                  "preprocessor_config.json (or processor_config.json)": "*processor_config.json",
                  "tokenizer files": "tokenizer*"}  # fmt: skip


def check_qwen2vl_folder(path: str) -> None:
    """Clear errors for the usual wrong folders, before transformers gets to them."""
    import glob
    import json
    import os

    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        raise FluxKitError(f"{path}: no config.json; {DOWNLOAD_HINT}")
    with open(config_path) as f:
        model_type = json.load(f).get("model_type", "")
    if model_type != "qwen2_vl":
        kind = OTHER_MODEL_TYPES.get(model_type, repr(model_type))
        raise FluxKitError(
            f"{path}: this is {kind} (model_type {model_type!r}); Qwen2VL-Flux's connector was trained on Qwen2-VL "
            f"(model_type 'qwen2_vl'); {DOWNLOAD_HINT}"
        )
    missing = [what for what, pattern in REQUIRED_FILES.items() if not glob.glob(os.path.join(path, pattern))]
    if missing:
        raise FluxKitError(f"{path}: missing {', '.join(missing)}; {DOWNLOAD_HINT}")
    for weights in sorted(glob.glob(os.path.join(path, "*.safetensors"))):
        read_safetensors_header(weights)  # a truncated or foreign shard: an error naming that file


def load_qwen2vl(
    path: str, dtype: torch.dtype = torch.bfloat16, device: str | torch.device = "cpu"
) -> Qwen2VL:
    """Load a Qwen2-VL folder (config.json, safetensors weights, tokenizer and preprocessor files)."""
    check_qwen2vl_folder(path)
    try:
        from transformers import AutoProcessor, Qwen2VLForConditionalGeneration
    except ImportError as e:  # pragma: no cover - ComfyUI ships transformers
        raise FluxKitError(f"Qwen2-VL needs the `transformers` package ({e})") from e
    try:
        model = Qwen2VLForConditionalGeneration.from_pretrained(path, torch_dtype=dtype, use_safetensors=True)
        processor = AutoProcessor.from_pretrained(path)
    except (OSError, ValueError) as e:
        raise FluxKitError(
            f"{path}: not a Qwen2-VL model folder ({e}); expected config.json, *.safetensors, tokenizer and "
            "preprocessor files, e.g. Qwen/Qwen2-VL-7B-Instruct"
        ) from e
    return Qwen2VL(model.to(device).eval(), processor, path)


def pixel_budget_kwargs(pixels: int) -> dict:
    """The processor keywords that fix the image to `pixels` pixels (min = max), as the installed transformers
    spells them: 4.x `min_pixels`/`max_pixels` (what Qwen2VL-Flux passes); 5.x deprecates those for
    `size={"shortest_edge": …, "longest_edge": …}` (pixel counts, not edges), which 4.x does not honour per call."""
    import transformers

    if int(transformers.__version__.split(".")[0]) >= 5:
        return {"size": {"shortest_edge": pixels, "longest_edge": pixels}}
    return {"min_pixels": pixels, "max_pixels": pixels}


def image_token_states(
    qwen: Qwen2VL,
    image,
    with_prompt: bool,
    device: str | torch.device | None = None,
    instruction: str = INSTRUCTION,
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Last hidden states at the image tokens, [1, N, hidden] (float32), and the merged grid (h, w), N = h·w.

    `image`: a PIL image or an HWC float array/tensor in 0…1."""
    processor = qwen.processor
    pixels = PIXELS_WITH_PROMPT if with_prompt else PIXELS_WITHOUT_PROMPT
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": instruction}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(
        text=[text], images=[_as_pil(image)], return_tensors="pt",
        images_kwargs=pixel_budget_kwargs(pixels),
    )  # fmt: skip
    device = device or next(qwen.model.parameters()).device
    # everything the processor returns goes to the model, as transformers' own generate path passes it (5.x adds
    # mm_token_type_ids and refuses images without it); only the pixels take the model's dtype
    inputs = {k: v.to(device) for k, v in inputs.items()}
    inputs["pixel_values"] = inputs["pixel_values"].to(qwen.model.dtype)
    image_token = qwen.model.config.image_token_id
    with torch.inference_mode():
        out = qwen.model.model(**inputs)
    hidden = out[0] if isinstance(out, tuple) else out.last_hidden_state
    keep = inputs["input_ids"][0] == image_token
    states = hidden[:, keep].float()
    merge = getattr(processor.image_processor, "merge_size", 2)
    _, gh, gw = (int(v) for v in inputs["image_grid_thw"][0])
    grid = (gh // merge, gw // merge)
    if grid[0] * grid[1] != states.shape[1]:
        raise FluxKitError(f"Qwen2-VL gave {states.shape[1]} image tokens for a {grid[0]}×{grid[1]} grid")
    return states, grid


def _as_pil(image):
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    arr = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else image
    return Image.fromarray((arr.clip(0, 1) * 255).round().astype("uint8")[..., :3])
