"""Fixed combo choices as tables: the short id a workflow stores (never changed once released), the label users
read (in the tooltip; free to reword), and the values earlier releases stored (still accepted).

A node lists `Choices.ids()` as the combo's options, puts `tooltip()` on the input, resolves what it receives with
`resolve()` (never by position) and declares the input in `validate_inputs`, which makes ComfyUI pass the value
to `accepts()` instead of refusing a legacy value that is no longer an option. Saved workflows keep loading.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..flux_core.errors import FluxKitError


@dataclass(frozen=True)
class Choice:
    id: str  # stored in workflows: never changes once released
    label: str  # shown to users; may be reworded
    legacy: tuple[str, ...] = ()  # what earlier releases stored for this choice


@dataclass(frozen=True)
class Choices:
    """The choices of one combo input of one node; the first row is the default."""

    node: str  # display name, for messages
    input: str
    rows: tuple[Choice, ...]

    def ids(self) -> list[str]:
        return [c.id for c in self.rows]

    @property
    def default(self) -> str:
        return self.rows[0].id

    def tooltip(self, intro: str) -> str:
        return intro + "\n" + "\n".join(f"• {c.id}: {c.label}" for c in self.rows)

    def _lookup(self, value: str) -> Choice | None:
        return next((c for c in self.rows if value == c.id or value in c.legacy), None)

    def accepts(self, value) -> bool | str:
        """For `validate_inputs`: True, or the message ComfyUI shows for this node."""
        if value is None or self._lookup(value) is not None:  # None: linked, checked when it arrives
            return True
        return f"{self.node}: {self.input} {value!r} is not one of {self.ids()}"

    def resolve(self, value: str) -> str:
        """The id for a stored value (an id or a legacy value)."""
        choice = self._lookup(value)
        if choice is None:
            raise FluxKitError(self.accepts(value))
        return choice.id

    def accepted(self) -> list[str]:
        return [v for c in self.rows for v in (c.id, *c.legacy)]


def all_accepted(*checks: tuple[Choices, str | None]) -> bool | str:
    """For a `validate_inputs` over several combos: True, or the first refusal's message."""
    for table, value in checks:
        ok = table.accepts(value)
        if ok is not True:
            return ok
    return True
