"""Inpainting around the model: crop the masked region(s) to the model's size, then stitch the result back so that
nothing outside the mask and its feather changes and nothing inside shows a seam.

| module | job |
|---|---|
| `mask` | binarise, grow/shrink, feather, polarity check |
| `regions` | split a mask's far-apart holes into regions that get a crop each |
| `crop` | crop each region (plus context) to the model's size; the `StitchRecord` that undoes it |
| `colour` | sRGB ↔ linear light ↔ Lab, ΔE |
| `resample` | the small working copies the estimates run on |
| `align` | find and undo the translation the model left (masked NCC, then Lucas–Kanade) |
| `tone` | find and undo the tone/colour shift, fitted on the context the model kept |
| `blend` | linear feather or multi-band blend, bit-identical outside the feather |
| `stitch` | the pipeline: per crop align → tone → resize back → blend |
"""
