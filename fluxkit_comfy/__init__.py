"""Driving a real ComfyUI: find and boot it in-process (`inprocess`), start it as a headless server (`server`), and
talk to one over HTTP + websocket (`client`: queue a prompt, follow it, fetch its outputs)."""
