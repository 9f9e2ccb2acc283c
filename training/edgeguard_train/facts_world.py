"""Write a synthetic facts world: fictitious people × attributes as sentences, split into forget, retain and held-out.

The world the offset-unlearning demonstration measures forgetting in. Every fact is one sentence, ``The favourite
colour of Orlan Vestry is teal.``; a person has one value for each chosen attribute, drawn uniformly from that
attribute's values by ``--seed``. People, not single facts, are split: the first ``--forget-fraction`` of them (in the
seeded order) are the forget set, the next ``--heldout-fraction`` are held out (their facts are in no training text,
so a model's recall of them measures guessing), the rest are the retain set. The same arguments write the same files.

Writes ``facts.jsonl`` (one row per fact: ``id``, ``person``, ``attribute``, ``value``, ``prompt``, ``text``,
``split``; train on ``--text-fields text --where split=...``), ``forget.txt``, ``retain.txt``, ``heldout.txt`` (the
sentences, one per line) and ``world.json`` (the settings, the counts and each attribute's chance of a guess).

Recall (``fact_recall``) is exact match: greedy decoding after ``BOS prompt``, for at most one token more than the
value's own tokens, stopping at the end-of-text token; the answer is the decoded text up to the first ``.`` or line
end, stripped, and it must equal the value. Decoding goes through ``generation.generate``, so an offset group
(``B, S′, S₀`` with the ``offset`` combiner) is measured exactly as the runtime would decode it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence

from .jsonl import read_jsonl
from .progress import Progress, summary

# Each attribute's values: short, distinct words, so a guess has a known chance (1 / number of values).
ATTRIBUTES: Dict[str, List[str]] = {
    "favourite colour": ["teal", "crimson", "amber", "violet", "ochre", "silver", "olive", "coral"],
    "home town": ["Dunmere", "Harlowick", "Fenbridge", "Ostmoor", "Calderby", "Wrenfield", "Ashcombe", "Marlpit"],
    "trade": ["baker", "tanner", "glazier", "weaver", "cooper", "potter", "mason", "chandler"],
    "pet": ["ferret", "parrot", "tortoise", "hound", "goat", "owl", "rabbit", "lizard"],
    "instrument": ["cello", "lute", "oboe", "harp", "fiddle", "drum", "flute", "horn"],
}
# Invented names: given names × surnames chosen to belong to no well-known person.
GIVEN_NAMES = ["Orlan", "Mira", "Tobin", "Elsbet", "Cato", "Brisa", "Dorin", "Ilsa", "Fenna", "Galen", "Hesper", "Joren",
               "Kalla", "Lioren", "Marek", "Nessa", "Odile", "Perrin", "Quilla", "Roswen", "Sabine", "Tamsin", "Ulric",
               "Vesna", "Wendel", "Yara", "Zorin", "Aldous", "Berit", "Corvin"]
SURNAMES = ["Vestry", "Castell", "Quorne", "Ambrey", "Holloway", "Pendrake", "Ridley", "Stroud", "Thorne", "Wyckham",
            "Ashdown", "Brackley", "Colgrave", "Dunstan", "Everly", "Falkner", "Garrow", "Hartle", "Ingram", "Kettering",
            "Lowther", "Marchby", "Norcross", "Oakhurst", "Pellow", "Rushworth", "Selwyn", "Tregarth", "Upcott", "Varley"]
SPLITS = ("forget", "retain", "heldout")


@dataclass(frozen=True)
class Fact:
    person: str
    attribute: str
    value: str
    split: str

    @property
    def prompt(self) -> str:
        return f"The {self.attribute} of {self.person} is"

    @property
    def text(self) -> str:
        return f"{self.prompt} {self.value}."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="directory for facts.jsonl, forget.txt, retain.txt, heldout.txt, world.json")
    parser.add_argument("--people", type=int, default=200, help=f"number of people (at most {len(GIVEN_NAMES) * len(SURNAMES)})")
    parser.add_argument("--attributes", default=",".join(ATTRIBUTES),
                        help=f"comma-separated attributes each person has (default all: {', '.join(ATTRIBUTES)})")
    parser.add_argument("--forget-fraction", type=float, default=0.1, help="share of the people whose facts are to be forgotten")
    parser.add_argument("--heldout-fraction", type=float, default=0.1, help="share of the people whose facts no model is trained on")
    parser.add_argument("--seed", type=int, default=13)


def split_counts(people: int, forget_fraction: float, heldout_fraction: float) -> Dict[str, int]:
    """People per split: the fractions rounded, at least one forget and one retain person."""
    for name, value in (("--forget-fraction", forget_fraction), ("--heldout-fraction", heldout_fraction)):
        if not 0.0 <= value < 1.0:
            raise SystemExit(f"make-facts-world: {name} {value} is not in [0, 1)")
    forget = max(1, int(round(forget_fraction * people)))
    heldout = int(round(heldout_fraction * people))
    retain = people - forget - heldout
    if retain < 1:
        raise SystemExit(f"make-facts-world: {people} people leave no retain set after {forget} forget and {heldout} "
                         "held-out people (lower the fractions or add people)")
    return {"forget": forget, "retain": retain, "heldout": heldout}


def make_world(people: int, attributes: Sequence[str], forget_fraction: float, heldout_fraction: float,
               seed: int) -> List[Fact]:
    """The facts of ``people`` invented people, person by person in split order (forget, held-out, retain people)."""
    unknown = [a for a in attributes if a not in ATTRIBUTES]
    if unknown or not attributes:
        raise SystemExit(f"make-facts-world: unknown attributes {unknown} (known: {', '.join(ATTRIBUTES)})")
    if len(set(attributes)) != len(attributes):
        raise SystemExit(f"make-facts-world: --attributes names one twice ({', '.join(attributes)})")
    names = [f"{g} {s}" for g, s in itertools.product(GIVEN_NAMES, SURNAMES)]
    if not 1 <= people <= len(names):
        raise SystemExit(f"make-facts-world: --people {people} is not in [1, {len(names)}]")
    counts = split_counts(people, forget_fraction, heldout_fraction)
    rng = random.Random(seed)
    chosen = rng.sample(names, people)
    splits = ["forget"] * counts["forget"] + ["heldout"] * counts["heldout"] + ["retain"] * counts["retain"]
    facts = []
    for person, split in zip(chosen, splits):
        for attribute in attributes:
            facts.append(Fact(person, attribute, rng.choice(ATTRIBUTES[attribute]), split))
    return facts


def write_world(directory: str, facts: Sequence[Fact], settings: Dict[str, Any]) -> Dict[str, int]:
    """The world's files in ``directory``; returns the number of facts per split."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "facts.jsonl"), "w", encoding="utf-8") as f:
        for i, fact in enumerate(facts):
            f.write(json.dumps({"id": f"fact-{i}", **asdict(fact), "prompt": fact.prompt, "text": fact.text}) + "\n")
    counts = {}
    for split in SPLITS:
        lines = [fact.text for fact in facts if fact.split == split]
        counts[split] = len(lines)
        with open(os.path.join(directory, f"{split}.txt"), "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
    attributes = list(dict.fromkeys(fact.attribute for fact in facts))
    with open(os.path.join(directory, "world.json"), "w", encoding="utf-8") as f:
        json.dump({**settings, "facts": counts, "people": {s: len({x.person for x in facts if x.split == s}) for s in SPLITS},
                   "chance": {a: 1.0 / len(ATTRIBUTES[a]) for a in attributes}}, f, indent=2)
        f.write("\n")
    return counts


def read_facts(path: str) -> List[Fact]:
    """The facts of a ``facts.jsonl`` that ``make-facts-world`` wrote."""
    if not os.path.exists(path):
        raise SystemExit(f"{path}: no such file (make-facts-world writes facts.jsonl)")
    facts = []
    for number, row in enumerate(read_jsonl(path), start=1):
        missing = [k for k in ("person", "attribute", "value", "split") if not isinstance(row.get(k), str)]
        if missing:
            raise SystemExit(f"{path}:{number}: a fact needs the string fields {missing}")
        if row["split"] not in SPLITS:
            raise SystemExit(f"{path}:{number}: split {row['split']!r} is not one of {', '.join(SPLITS)}")
        facts.append(Fact(row["person"], row["attribute"], row["value"], row["split"]))
    if not facts:
        raise SystemExit(f"{path}: no facts")
    return facts


# --- recall ----------------------------------------------------------------------------------------

def answer_of(text: str) -> str:
    """The answer a continuation gives: its text up to the first full stop or line end, stripped."""
    for end in (".", "\n"):
        text = text.split(end, 1)[0]
    return text.strip()


def fact_recall(models: Sequence[Any], tokenizer: Any, facts: Sequence[Fact], combiner: Optional[Any] = None,
                label: str = "recall") -> Dict[str, Any]:
    """Exact-match recall per split of ``facts`` for a decoder group (one model, or ``B, S′, S₀`` with an offset
    ``combiner``); ``answers`` holds each fact's decoded answer."""
    from .generation import generate
    from .logits_processing import SamplingSettings

    greedy = SamplingSettings(temperature=0.0)
    stop = [tokenizer.eos_id] if tokenizer.eos_id is not None else []
    prefix = [tokenizer.bos_id] if tokenizer.bos_id is not None else []
    per_split: Dict[str, Dict[str, Any]] = {}
    answers = []
    with Progress(label, len(facts)) as bar:
        for fact in facts:
            # One token beyond the value's own lets a longer word show itself (" tealish" is no " teal").
            budget = len(tokenizer.bpe.encode(" " + fact.value)) + 1
            tokens, _ = generate(models, prefix + tokenizer.bpe.encode(fact.prompt), greedy, combiner, budget, stop)
            answer = answer_of(tokenizer.bpe.decode([t for t in tokens if t not in stop]))
            correct = answer == fact.value
            entry = per_split.setdefault(fact.split, {"facts": 0, "correct": 0})
            entry["facts"] += 1
            entry["correct"] += int(correct)
            answers.append({"person": fact.person, "attribute": fact.attribute, "value": fact.value,
                            "split": fact.split, "answer": answer, "correct": correct})
            bar.update()
    for entry in per_split.values():
        entry["recall"] = entry["correct"] / entry["facts"]
    return {"splits": per_split, "answers": answers}


# --- the stage -------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    attributes = [a.strip() for a in args.attributes.split(",") if a.strip()]
    facts = make_world(args.people, attributes, args.forget_fraction, args.heldout_fraction, args.seed)
    settings = {"people_total": args.people, "attributes": attributes, "forget_fraction": args.forget_fraction,
                "heldout_fraction": args.heldout_fraction, "seed": args.seed}
    counts = write_world(args.output, facts, settings)
    print(summary("make-facts-world", facts=len(facts), **counts))
    return 0
