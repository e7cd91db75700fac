"""The thin test/demo model set: random-weight checkpoints in the published key layouts (real width, one block),
the tiny Qwen2-VL folder, GGUF files, the diffusers reference builders the tests and benches compare against, and
inputs rewired for thin runs. Generated at run time, never committed."""
