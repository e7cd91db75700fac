"""The command 0.1.0's README gave (`python -m fluxkit_workflows.run_demo`), kept so it says where the demo went:
`python -m fluxkit_tools.demo`, same arguments. It imports nothing from fluxkit_tools, so the workflow builder stays
below the tools that use it."""

import sys

MOVED = (
    "fluxkit_workflows.run_demo: the demo moved; run `python -m fluxkit_tools.demo` with the same arguments"
)

if __name__ == "__main__":
    print(MOVED, file=sys.stderr)
    raise SystemExit(2)
