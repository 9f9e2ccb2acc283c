"""The shipped guards (models/*) are bundles the runtime opens, within the repository's size budget, each with a card.

Nothing here trains or runs them: the runtime's tests run the default on hand-written behaviour sets
(tests/EdgeGuard.Tests/GuardApi/DefaultGuardBehaviourTests.cs).
"""

from conftest import REPO_ROOT

MODELS = REPO_ROOT / "models"
SIZE_BUDGET = 63_000_000  # about 60 MB for everything committed under models/


def test_shipped_guards_are_bundles_with_cards_within_the_size_budget():
    guards = sorted(p for p in MODELS.iterdir() if p.is_dir())
    assert "edgeguard-default" in [g.name for g in guards]
    for guard in guards:
        with open(guard / "model.gguf", "rb") as f:
            assert f.read(4) == b"GGUF", guard
        card = (guard / "MODEL_CARD.md").read_text(encoding="utf-8")
        for section in ("## Data and licences", "## Training", "## Known weaknesses"):
            assert section in card, f"{guard.name}: the model card has no '{section}'"
    total = sum(f.stat().st_size for f in MODELS.rglob("*") if f.is_file())
    assert total <= SIZE_BUDGET, f"models/ holds {total / 1e6:.1f} MB"
