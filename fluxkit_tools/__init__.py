"""FluxKit's command-line tools: the demo (main job), model downloader, headless batch client, notebook launcher
with a token-guarded proxy."""
