"""FluxKit's command-line tools: model downloader, headless client, notebook launcher with a token-guarded proxy."""
