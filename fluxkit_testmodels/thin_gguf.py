"""A thin FLUX as a quantized GGUF file, the way low-VRAM users load FLUX (city96/ComfyUI-GGUF's UnetLoaderGGUF).

The same BFL keys and shapes as the thin safetensors FLUX, written with the `gguf` package and the tensor-type rules
of city96/ComfyUI-GGUF's own converter (tools/convert.py at 795e451): architecture "flux", 1-D tensors and tensors of
at most 1024 elements in F32, every other tensor in the requested type (the `gguf` package quantizes Q8_0, Q4_0,
Q4_1, Q5_0, Q5_1; not K-quants). FLUX is never reshaped. Test/demo data only.
"""

from __future__ import annotations

import os

QUANTIZATION_THRESHOLD = 1024  # elements; city96's converter keeps smaller tensors in F32


def write_flux_gguf(src_safetensors: str, dst: str, qtype: str = "Q8_0") -> str:
    """Convert the thin FLUX at `src_safetensors` (BFL keys) to `dst` with 2-D weights in `qtype`."""
    import gguf
    import numpy as np
    from safetensors.torch import load_file

    quant = gguf.GGMLQuantizationType[qtype]
    state_dict = load_file(src_safetensors)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = f"{dst}.partial"
    writer = gguf.GGUFWriter(tmp, "flux")
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for key, tensor in state_dict.items():
        data = tensor.float().numpy().astype(np.float32)
        small = data.ndim == 1 or data.size <= QUANTIZATION_THRESHOLD
        kind = gguf.GGMLQuantizationType.F32 if small else quant
        writer.add_tensor(key, gguf.quants.quantize(data, kind), raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, dst)
    return dst
