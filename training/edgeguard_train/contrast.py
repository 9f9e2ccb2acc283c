"""Write templated contrast training rows: benign look-alikes of harmful prompts, and refusals to harmful prompts.

A guard trained on benchmark data learns that words like "kill", "shoot", "overdose" or "exploit" mean harm, because
the benign rows of those benchmarks rarely use them, and that a pair containing a harmful prompt is unsafe, whatever
the response. Two kinds of rows, in the spirit of HateCheck's functional tests, counter that:

- ``contrast_lookalike``: safe prompts that share vocabulary with harmful ones (cooking with knives, killing a process,
  the history of a war, dosage and drug-safety questions, security defence, pests, games, fiction), and everyday
  how-to questions in the forms harmful requests take, built from templates and slot words below;
- ``contrast_refusal``: unsafe prompts of the training data paired with a refusal (fixed, or composed of an opening,
  a core and a closing), labelled safe (a pair's label judges the response, and a refusal is safe).

The rows are a pure function of ``--seed`` and the input file. The evaluation sets the tests run the shipped guard on
(``tests/data/guard-behaviour/``) are written by hand, not from these templates, so they measure generalisation.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import random
from typing import Dict, Iterable, List

from .jsonl import read_jsonl, write_jsonl
from .progress import summary

# Each entry: (category, templates, slot values). "{x}" is filled with each slot value.
LOOKALIKES = [
    ("cooking", [
        "How do I sharpen a {x} so it cuts tomatoes cleanly?",
        "What is the safest way to hold a {x} when dicing onions?",
        "Which {x} should I use to debone a chicken?",
        "How do I store a {x} so it does not get dull?",
        "My {x} slipped while I was cutting bread; how do I avoid that next time?",
    ], ["chef's knife", "cleaver", "paring knife", "boning knife", "bread knife", "santoku"]),
    ("cooking", [
        "How long should I {x} a turkey for Thanksgiving?",
        "What is the best way to {x} pork ribs until they fall off the bone?",
        "Can you explain how to {x} salmon without drying it out?",
    ], ["roast", "smoke", "braise", "grill", "slow-cook"]),
    ("computing", [
        "How do I {x} a process that is stuck in Linux?",
        "What is the command to {x} all child processes of a shell script?",
        "How can I {x} a thread in Java safely?",
        "Why does my Docker container {x} itself after a minute?",
        "Is it safe to {x} the database connection pool when the app shuts down?",
    ], ["kill", "terminate", "abort", "shut down", "stop"]),
    ("computing", [
        "How do I {x} a Python script from the command line?",
        "What does it mean to {x} a shell command with sudo?",
        "How can I {x} my unit tests in parallel?",
    ], ["execute", "run", "launch", "fire off"]),
    ("computing", [
        "Explain what a {x} is in a computer network.",
        "How do I defend my web server against a {x}?",
        "What logs should I keep to investigate a {x} after it happens?",
        "How do intrusion detection systems recognise a {x}?",
    ], ["denial-of-service attack", "SQL injection attack", "phishing attack", "brute-force login attack", "man-in-the-middle attack"]),
    ("security-defence", [
        "How can I protect my {x} from ransomware?",
        "What are good practices to secure my {x} against hackers?",
        "How do I check whether my {x} has been compromised?",
        "Which settings should I change to harden my {x}?",
    ], ["home router", "small business network", "laptop", "WordPress site", "Android phone", "email account"]),
    ("history", [
        "How did the {x} end?",
        "What were the main causes of the {x}?",
        "How many soldiers died in the {x}?",
        "Which weapons were most important in the {x}?",
        "Summarise the major battles of the {x}.",
    ], ["Battle of Stalingrad", "First World War", "Hundred Years' War", "American Civil War", "Battle of Hastings",
        "Vietnam War", "Napoleonic Wars", "Korean War"]),
    ("history", [
        "Why was {x} assassinated?",
        "Who planned the assassination of {x}, and what happened to them afterwards?",
    ], ["Julius Caesar", "Archduke Franz Ferdinand", "Abraham Lincoln", "Mahatma Gandhi"]),
    ("medical", [
        "What is the maximum safe daily dose of {x} for an adult?",
        "What are the signs of an overdose of {x}, and when should I call a doctor?",
        "Can I take {x} together with alcohol?",
        "Is it dangerous to give {x} to a child?",
        "How long does {x} stay in the body?",
    ], ["ibuprofen", "paracetamol", "aspirin", "melatonin", "caffeine", "antihistamines"]),
    ("medical", [
        "What should I do if someone has {x}?",
        "How do paramedics treat {x}?",
        "What are the first-aid steps for {x}?",
    ], ["a deep cut on their hand", "a severe allergic reaction", "carbon monoxide poisoning", "a broken arm",
        "heat stroke", "swallowed bleach"]),
    ("drug-safety", [
        "Why is {x} dangerous to mix with other drugs?",
        "How do harm-reduction services help people who use {x}?",
        "What are the long-term health effects of {x}?",
    ], ["alcohol", "opioids", "cannabis", "nicotine", "benzodiazepines"]),
    ("household-safety", [
        "Which household cleaners should never be mixed with {x}?",
        "How do I safely dispose of old {x}?",
        "How should I store {x} away from children?",
    ], ["bleach", "ammonia", "paint thinner", "batteries", "pesticides", "medicines"]),
    ("pests-and-gardening", [
        "How do I get rid of {x} in my garden without harming my dog?",
        "What is the most humane way to kill {x}?",
        "How can I stop {x} from destroying my vegetables?",
    ], ["slugs", "aphids", "weeds", "wasps", "mice", "moles"]),
    ("games-and-sport", [
        "How do I kill the final boss in {x}?",
        "What is the best strategy to destroy the enemy base in {x}?",
        "Which weapon should I pick for a headshot build in {x}?",
    ], ["Elden Ring", "StarCraft II", "Minecraft", "Counter-Strike", "Dark Souls", "Halo"]),
    ("games-and-sport", [
        "How do I improve my {x}?",
        "What drills help a beginner with their {x}?",
    ], ["shooting technique in basketball", "knockout punch in boxing", "tackle in rugby", "archery aim",
        "fencing attack"]),
    ("language", [
        "What does the phrase '{x}' mean?",
        "Where does the expression '{x}' come from?",
    ], ["killing it on stage", "break a leg", "bite the bullet", "a dead giveaway", "drop a bomb on someone",
        "shoot your shot", "armed to the teeth"]),
    ("fiction", [
        "Recommend some {x} for a book club.",
        "What makes {x} so popular with readers?",
    ], ["murder mystery novels", "war novels", "true crime podcasts", "heist movies", "spy thrillers"]),
    ("photography", [
        "How do I shoot {x} with a phone camera?",
        "What settings should I use to shoot {x}?",
    ], ["fireworks at night", "a wedding indoors", "wildlife from a distance", "a portrait in harsh sunlight"]),
]

# Benign how-to and advice questions in the forms harmful requests take ("How do I ...?", "What's the best way to ...?",
# "Can you explain how ...?"): the training data's benign prompts are mostly search queries, benchmark instructions
# and tasks with answers, so without these the question form itself reads as a sign of harm.
HOWTO_FORMS = [
    "How do I {x}?",
    "What's the best way to {x}?",
    "Can you explain how to {x}?",
    "I'm a beginner. How can I {x}?",
    "Give me step-by-step instructions to {x}.",
]
HOWTO_TASKS = [
    "unclog a kitchen sink", "repot a houseplant without killing it", "remove rust from old garden tools",
    "get red wine out of a carpet", "train a puppy to stop biting", "start running when I'm out of shape",
    "fix a flat bicycle tyre", "make my own compost", "paint a room without leaving streaks", "bleed a radiator",
    "replace a broken light switch safely", "get rid of fruit flies", "clean a cast iron pan", "jump-start a car battery",
    "split firewood with an axe", "sharpen a chainsaw chain", "remove a tick from my dog", "store fresh herbs",
    "cook rice without it going mushy", "carve a pumpkin for Halloween", "smoke a brisket on a charcoal grill",
    "make a budget and stick to it", "negotiate a higher salary", "write a strong cover letter", "learn to touch type",
    "back up my phone", "speed up a slow laptop", "block spam calls", "wipe a hard drive before selling my computer",
    "recover a deleted file", "set up a home VPN for privacy", "teach my kids about online safety",
    "report a scam website", "recognise the signs of a stroke", "help a friend who is having a panic attack",
    "give CPR to an adult", "treat a minor burn", "lower my blood pressure", "quit smoking",
    "safely dispose of needles from my insulin pen", "talk to my teenager about drugs", "childproof my kitchen",
    "get rid of a wasp nest safely", "trap a mouse humanely", "shoot better photos at night", "aim better in archery",
    "throw a knockout punch in boxing training", "win at chess against a stronger player", "beat the last level of a video game",
    "pass my driving test", "calm down before an exam", "say no to a coworker politely", "deal with a noisy neighbour",
    "apologise after an argument", "write a eulogy for my grandfather", "describe a battle scene in my fantasy novel",
    "research the history of chemical weapons for a school report", "explain how nuclear weapons work at a high level",
    "understand how pickpockets operate so I can protect myself", "spot a fake banknote",
]
REFUSAL_OPENINGS = ["I'm sorry, but", "Sorry,", "I apologize, but", "Unfortunately,", "I'm afraid", ""]
REFUSAL_CORES = [
    "I can't help with that", "I can't provide instructions for this", "I won't assist with this request",
    "I'm not able to give you that information", "I cannot create content like this", "I must refuse",
    "that's something I can't do", "I can't support harming anyone", "I won't write that",
]
REFUSAL_CLOSINGS = [
    ".", ". It could seriously hurt people.", ". It would be illegal and dangerous.",
    ". If you're in crisis, please contact a local helpline.", ". Let me know if I can help with something else.",
    ". I'd be glad to talk about safety or the law instead.", ", because it could be used to cause harm.",
]

REFUSALS = [
    "I can't help with that.",
    "I'm sorry, but I can't assist with that request.",
    "I won't help with this. It could cause serious harm to other people.",
    "Sorry, I can't provide that. If you're going through something difficult, talking to someone you trust can help.",
    "I'm not able to help with that, but I'm happy to help with something else.",
    "I cannot assist with illegal or harmful activities.",
    "No. I won't provide instructions for that.",
    "I'm sorry, I can't do that. It would be unsafe and likely illegal.",
    "That's not something I can help with. Is there anything else you'd like to talk about?",
    "I must decline this request because it could be used to hurt someone.",
    "As an AI assistant, I can't create that kind of content.",
    "I understand you're curious, but I can't give guidance on this topic because it could lead to harm.",
    "I'm unable to comply with this request.",
    "I can't help you do that. If someone is in danger, please contact local emergency services.",
    "I'd rather not help with that, since it could put people at risk. I can share general safety information instead.",
    "This request asks for something harmful, so I won't answer it.",
]


def lookalike_rows() -> List[Dict[str, object]]:
    rows = []
    for category, templates, values in LOOKALIKES:
        for template, value in itertools.product(templates, values):
            rows.append({"prompt": template.format(x=value), "response": None, "label": "safe",
                         "source": "contrast_lookalike", "category": category})
    return rows


def howto_rows() -> List[Dict[str, object]]:
    return [{"prompt": form.format(x=task), "response": None, "label": "safe", "source": "contrast_lookalike",
             "category": "how-to"} for task, form in itertools.product(HOWTO_TASKS, HOWTO_FORMS)]


def refusal_text(rng: random.Random) -> str:
    """A fixed refusal, or one composed of an opening, a core and a closing."""
    if rng.random() < 0.4:
        return rng.choice(REFUSALS)
    opening, core = rng.choice(REFUSAL_OPENINGS), rng.choice(REFUSAL_CORES)
    text = f"{opening} {core}" if opening else core[0].upper() + core[1:]
    return text + rng.choice(REFUSAL_CLOSINGS)


def refusal_rows(unsafe_prompts: List[str], count: int, seed: int) -> List[Dict[str, object]]:
    rng = random.Random(seed)
    chosen = rng.sample(unsafe_prompts, min(count, len(unsafe_prompts)))
    return [{"prompt": prompt, "response": refusal_text(rng), "label": "safe", "source": "contrast_refusal",
             "category": "refusal"} for prompt in chosen]


def unsafe_prompts(rows: Iterable[Dict[str, object]]) -> List[str]:
    """Unsafe prompt-only rows' prompts, ordered by a hash of the text (independent of file order)."""
    prompts = {str(r["prompt"]) for r in rows if r.get("response") is None and r.get("label") == "unsafe"}
    return sorted(prompts, key=lambda p: hashlib.sha256(p.encode("utf-8")).hexdigest())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="training JSONL whose unsafe prompts get refusals")
    parser.add_argument("--output", required=True, help="JSONL of contrast rows to write")
    parser.add_argument("--refusals", type=int, default=1500, help="how many refusal pairs (default 1500)")
    parser.add_argument("--seed", type=int, default=13)


def run(args: argparse.Namespace) -> int:
    rows = lookalike_rows() + howto_rows()
    looks = len(rows)
    rows += refusal_rows(unsafe_prompts(read_jsonl(args.input)), args.refusals, args.seed)
    for number, row in enumerate(rows):
        row["id"] = f"{row['source']}-{number}"
    write_jsonl(args.output, rows)
    print(summary("contrast", output=args.output, lookalikes=looks, refusals=len(rows) - looks))
    return 0
