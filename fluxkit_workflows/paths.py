"""Where the generated workflow files live (importing this loads no workflow definition).

workflows/ui/<name>.json         UI format: drag into the graph editor
workflows/api/<name>.json        API format: POST /prompt, the headless client, the demo
example_workflows/<name>.json    the UI form again, for ComfyUI's template browser, + <name>.jpg thumbnail
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UI_DIR = REPO / "workflows" / "ui"
API_DIR = REPO / "workflows" / "api"
TEMPLATE_DIR = REPO / "example_workflows"
