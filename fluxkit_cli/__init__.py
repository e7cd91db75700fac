"""The edges every FluxKit command shares (`python -m fluxkit_tools.*`, `python -m fluxkit_workflows.*`,
`python -m bench*`): a usage error is one line on stderr and exit status 2; a failure FluxKit can explain is one line
on stderr and exit status 1. Neither prints a traceback; a bug still does, and `FLUXKIT_DEBUG=1` shows the traceback
of an explained failure too. Standard library only: the lowest package, so every entry point can use it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

USAGE, FAILED, INTERRUPTED = 2, 1, 130


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, `prog: message (see --help)`, exit 2 (argparse's own print the whole
    usage block first, which buries the message in a script's log)."""

    def error(self, message: str):
        self.exit(USAGE, f"{self.prog}: {message} (see --help)\n")


FLUXKIT_PACKAGES = ("flux_core", "fluxkit_catalog", "fluxkit_cli", "fluxkit_workflows", "fluxkit_comfy", "fluxkit_batch",
                    "fluxkit_testmodels", "fluxkit_tools", "bench")  # fmt: skip
# optional dependencies a command says how to install instead of failing with a traceback
OPTIONAL_MODULES = {"ray", "modelscope", "gguf", "diffusers", "skimage", "playwright", "huggingface_hub"}


def explained(e: BaseException) -> bool:
    """Whether the message already says what was wrong: an error type FluxKit defines (FluxKitError, PromptRejected,
    ServerUnavailable, RayUnavailable, DownloadError, ComfyStartError, …), a file or connection the OS refused
    (OSError), or an optional dependency that is not installed. Anything else is a bug: traceback. FLUXKIT_DEBUG=1:
    nothing is explained (every failure shows its traceback)."""
    if os.environ.get("FLUXKIT_DEBUG") == "1":
        return False
    if type(e).__module__.split(".")[0] in FLUXKIT_PACKAGES:
        return True
    if isinstance(e, ModuleNotFoundError):
        return (e.name or "").split(".")[0] in OPTIONAL_MODULES
    return isinstance(e, OSError)


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 2000 else text[:1997] + "…"


def run(main: Callable[[list[str] | None], int], prog: str, argv: list[str] | None = None) -> int:
    """`main(argv)`'s exit status, with explained failures and Ctrl-C turned into one line on stderr."""
    try:
        return main(argv)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as e:
        if not explained(e):
            raise
        print(f"{prog}: {one_line(e)}", file=sys.stderr)
        return FAILED
