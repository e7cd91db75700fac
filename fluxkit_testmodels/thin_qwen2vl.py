"""A tiny Qwen2-VL model folder in the published layout (config.json, model.safetensors, tokenizer, preprocessor and
chat template), plus Qwen2VL-Flux connector and T5-embedder files in their published key layouts, for tests and the
thin demo. Random weights; the real loading code (`transformers` from_pretrained, FluxKit's connector loader) runs
on them. The tokenizer is a byte-level BPE with no merges plus Qwen2-VL's special tokens, and the chat template
is a minimal ChatML with Qwen2-VL's image placeholder, written here.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
    "<|video_pad|>",
]  # fmt: skip
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TINY_HIDDEN = 64


def _tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIAL_TOKENS)
    return Qwen2TokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
    )


def write_tiny_qwen2vl(folder: Path, seed: int = 0) -> Path:
    """Write the tiny model folder (≈ 2 MB) and return it."""
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
    )
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    config = Qwen2VLConfig(
        text_config={
            "hidden_size": TINY_HIDDEN, "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 2,
            "num_key_value_heads": 1, "vocab_size": len(tokenizer), "rope_scaling": {"type": "mrope", "mrope_section": [4, 6, 6]},
            "max_position_embeddings": 4096,
        },
        vision_config={
            "depth": 1, "embed_dim": 32, "hidden_size": TINY_HIDDEN, "num_heads": 2, "mlp_ratio": 2, "patch_size": 14,
            "spatial_merge_size": 2, "temporal_patch_size": 2, "in_channels": 3,
        },
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )  # fmt: skip
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05 if p.ndim > 1 else 0.01)
    model.save_pretrained(folder, safe_serialization=True)
    _write_published_config(folder / "config.json", config)
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(folder)
    return folder


def _write_published_config(path: Path, config) -> None:
    """config.json in the layout Qwen/Qwen2-VL-7B-Instruct publishes (flat text keys, `rope_scaling` with type mrope,
    vision keys `in_chans`/`spatial_patch_size`), whichever transformers wrote the folder: transformers 5 saves
    `text_config` + `rope_parameters`, which transformers 4 cannot read (rope_scaling None)."""
    text, vision = config.text_config, config.vision_config
    published = {
        "architectures": ["Qwen2VLForConditionalGeneration"], "model_type": "qwen2_vl", "torch_dtype": "float32",
        "hidden_size": text.hidden_size, "intermediate_size": text.intermediate_size,
        "num_hidden_layers": text.num_hidden_layers, "num_attention_heads": text.num_attention_heads,
        "num_key_value_heads": text.num_key_value_heads, "vocab_size": text.vocab_size, "hidden_act": "silu",
        "max_position_embeddings": text.max_position_embeddings, "max_window_layers": 80, "rms_norm_eps": 1e-05,
        "rope_theta": 1000000.0, "rope_scaling": {"type": "mrope", "mrope_section": [4, 6, 6]},
        "sliding_window": 32768, "use_sliding_window": False, "tie_word_embeddings": False, "use_cache": True,
        "attention_dropout": 0.0, "initializer_range": 0.02,
        "image_token_id": config.image_token_id, "video_token_id": config.video_token_id,
        "vision_start_token_id": config.vision_start_token_id, "vision_end_token_id": config.vision_end_token_id,
        "vision_config": {
            "depth": vision.depth, "embed_dim": vision.embed_dim, "mlp_ratio": vision.mlp_ratio,
            "num_heads": vision.num_heads, "in_chans": 3, "hidden_size": vision.hidden_size,
            "patch_size": vision.patch_size, "spatial_merge_size": vision.spatial_merge_size, "spatial_patch_size": 14,
            "temporal_patch_size": vision.temporal_patch_size,
        },
    }  # fmt: skip
    path.write_text(json.dumps(published, indent=2) + "\n")


def write_connector(
    path: Path, in_features: int = TINY_HIDDEN, seed: int = 1, prefix: str = "module."
) -> Path:
    """connector.pt as published: {'module.linear.weight': [4096, in], 'module.linear.bias': [4096]}."""
    g = torch.Generator().manual_seed(seed)
    sd = {
        f"{prefix}linear.weight": torch.randn(4096, in_features, generator=g) * in_features**-0.5,
        f"{prefix}linear.bias": torch.randn(4096, generator=g) * 0.01,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, path)
    return path


def write_t5_embedder(path: Path, seed: int = 2) -> Path:
    """t5_embedder.pt as published: {'weight': [3072, 4096], 'bias': [3072]} (bf16 to keep it small)."""
    g = torch.Generator().manual_seed(seed)
    sd = {
        "weight": (torch.randn(3072, 4096, generator=g) * 4096**-0.5).to(torch.bfloat16),
        "bias": (torch.randn(3072, generator=g) * 0.01).to(torch.bfloat16),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, path)
    return path
