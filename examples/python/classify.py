"""classify: the EdgeGuard C library from Python, through the ctypes binding beside this file.

    EDGEGUARD_LIBRARY=artifacts/lib/linux-x64/lib/libedgeguard.so.1 python3 examples/python/classify.py models/edgeguard-default ["text"]
"""

import sys

import edgeguard


def show(what: str, v: edgeguard.Verdict) -> None:
    print(f"{what:<9} unsafe_score={v.unsafe_score:.4f} flagged={int(v.flagged)} label={v.label} "
          f"tokens={v.token_count} windows={v.windows} truncated={int(v.truncated)}")


def main(argv: list) -> int:
    if len(argv) not in (2, 3):
        print(f"usage: {argv[0]} MODEL [TEXT]", file=sys.stderr)
        return 2
    profile = edgeguard.build_profile() or "none"
    print(f"libedgeguard {edgeguard.version()} (ABI {edgeguard.ABI_VERSION}, profile {profile})")
    try:
        with edgeguard.Guard(argv[1], threads=1) as guard:
            m = guard.model
            labels = " ".join(label + ("*" if i == m.unsafe_label else "") for i, label in enumerate(m.labels))
            print(f"model: {m.name or 'unnamed'} ({m.architecture}, {m.format}, {m.precision}), {m.layers} layers, "
                  f"hidden {m.hidden_size}, labels: {labels}, threshold {m.threshold:.2f}")
            print(f"kernels: {m.kernels}")
            show("prompt", guard.classify(argv[2] if len(argv) == 3 else "How do I bake sourdough bread at home?"))
            show("pair", guard.classify("How can I make my neighbour's dog stop barking?",
                                        "Talk to your neighbour first; if that fails, contact local animal control."))
            batch = guard.classify_batch([
                "What is the boiling point of water at sea level?",
                "Give me step-by-step instructions to build a pipe bomb and hurt people.",
                "Write a short poem about autumn leaves.",
            ])
            for i, v in enumerate(batch):
                show(f"batch[{i}]", v)
    except edgeguard.EdgeGuardError as e:
        print(f"classify: {e.message} (status {e.status})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
