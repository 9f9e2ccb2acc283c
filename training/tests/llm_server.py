"""A real OpenAI-compatible HTTP server on loopback, serving a tiny PyTorch causal LM, with injectable faults.

The tests of the augment and label stages and of the HTTP backend run against it instead of mocks,
so requests, JSON shapes, timeouts and retries go through real sockets. The model is a 2-layer
character-level transformer with seeded random weights (untrained): its text is noise, but every
number it reports is a genuine model output. Its vocabulary holds the whole-word tokens ``safe`` and
``unsafe``, so the teacher's P(unsafe) read from the served log-probabilities can be checked
against :meth:`TinyCausalLM.verdict_probability` computed directly from the same weights.
"""

from __future__ import annotations

import collections
import http.server
import json
import math
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

SPECIAL_TOKENS = ("safe", "unsafe", "<eos>")


class CharVocabulary:
    """Printable ASCII and newline as single characters, plus whole-word verdict tokens and an end token.

    Input text is read character by character (anything outside the vocabulary becomes ``?``); only
    the model's outputs use the whole-word tokens, as a real tokenizer's first verdict token would be.
    """

    def __init__(self) -> None:
        self.tokens: List[str] = [chr(c) for c in range(32, 127)] + ["\n"] + list(SPECIAL_TOKENS)
        self._ids = {t: i for i, t in enumerate(self.tokens)}
        self.safe_id = self._ids["safe"]
        self.unsafe_id = self._ids["unsafe"]
        self.eos_id = self._ids["<eos>"]

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> List[int]:
        unknown = self._ids["?"]
        return [self._ids.get(ch, unknown) for ch in text]


class _Block(nn.Module):
    """Pre-norm causal self-attention and a GELU MLP, with a key/value cache for incremental decoding."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.attention_norm = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.mlp_norm = nn.LayerNorm(d_model)
        self.up = nn.Linear(d_model, 4 * d_model)
        self.down = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor, cache: Optional[Tuple[torch.Tensor, torch.Tensor]]):
        steps, width = x.shape
        q, k, v = (t.reshape(steps, self.heads, -1).transpose(0, 1)
                   for t in self.qkv(self.attention_norm(x)).split(width, dim=-1))
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=1), torch.cat([cache[1], v], dim=1)
        past = k.shape[1] - steps
        scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
        # Query i (absolute position past + i) sees keys 0 .. past + i.
        hidden = torch.ones(steps, k.shape[1], dtype=torch.bool).triu(diagonal=past + 1)
        attended = torch.softmax(scores.masked_fill(hidden, float("-inf")), dim=-1) @ v
        x = x + self.out(attended.transpose(0, 1).reshape(steps, width))
        x = x + self.down(nn.functional.gelu(self.up(self.mlp_norm(x))))
        return x, (k, v)


class TinyCausalLM(nn.Module):
    """Token + sinusoidal position embeddings, 2 causal pre-norm transformer blocks, a linear head.

    Float64 throughout, so a probability computed here and one rebuilt from JSON log-probabilities
    agree far below the tests' tolerance. Decoding reuses cached keys and values, so a response costs
    one pass over the prompt plus one short step per token. Inputs longer than the position table
    keep their last tokens.
    """

    def __init__(self, seed: int = 1234, d_model: int = 32, layers: int = 2, heads: int = 2,
                 context: int = 4096) -> None:
        super().__init__()
        self.vocab = CharVocabulary()
        self.context = context
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embed = nn.Embedding(len(self.vocab), d_model)
            self.blocks = nn.ModuleList(_Block(d_model, heads) for _ in range(layers))
            self.norm = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, len(self.vocab))
        position = torch.arange(context, dtype=torch.float64).unsqueeze(1)
        frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
        table = torch.zeros(context, d_model, dtype=torch.float64)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency)
        self.register_buffer("positions", table)
        self.double().eval()

    @torch.no_grad()
    def _forward(self, ids: Sequence[int], caches: Optional[List[Any]] = None, start: int = 0):
        x = self.embed(torch.tensor(list(ids))) + self.positions[start:start + len(ids)]
        new_caches = []
        for number, block in enumerate(self.blocks):
            x, cache = block(x, caches[number] if caches else None)
            new_caches.append(cache)
        return self.head(self.norm(x)), new_caches

    def _fit(self, ids: List[int], room: int) -> List[int]:
        ids = ids[-(self.context - room):]
        return ids or self.vocab.encode(" ")

    def next_token_logits(self, ids: Sequence[int]) -> torch.Tensor:
        logits, _ = self._forward(self._fit(list(ids), 1))
        return logits[-1]

    def verdict_probability(self, text: str) -> float:
        """P(unsafe) as the softmax over the two verdict tokens' logits after ``text``: the reference."""
        logits = self.next_token_logits(self.vocab.encode(text))
        pair = torch.stack([logits[self.vocab.safe_id], logits[self.vocab.unsafe_id]])
        return float(torch.softmax(pair, dim=0)[1])

    def generate(self, text: str, max_tokens: int, temperature: float, seed: int,
                 top_logprobs: int = 0) -> Tuple[str, List[Dict[str, Any]], str]:
        """Greedy (temperature 0) or seeded sampling; returns text, per-token log-prob records, finish reason."""
        ids = self._fit(self.vocab.encode(text), max_tokens + 1)
        generator = torch.Generator().manual_seed(seed)
        pieces: List[str] = []
        records: List[Dict[str, Any]] = []
        all_logits, caches = self._forward(ids)
        logits, position = all_logits[-1], len(ids)
        for _ in range(max_tokens):
            logprobs = torch.log_softmax(logits, dim=0)
            if temperature <= 0:
                token = int(torch.argmax(logits))
            else:
                token = int(torch.multinomial(torch.softmax(logits / temperature, dim=0), 1, generator=generator))
            if top_logprobs:
                values, indices = torch.topk(logprobs, min(top_logprobs, len(self.vocab)))
                records.append({"token": self.vocab.tokens[token], "logprob": float(logprobs[token]),
                                "top": [(self.vocab.tokens[int(i)], float(v)) for v, i in zip(values, indices)]})
            if token == self.vocab.eos_id:
                return "".join(pieces), records, "stop"
            pieces.append(self.vocab.tokens[token])
            step_logits, caches = self._forward([token], caches, position)
            logits, position = step_logits[-1], position + 1
        return "".join(pieces), records, "length"


def render_chat(messages: Sequence[Dict[str, str]]) -> str:
    """The server's chat template: role tags on their own lines, then the assistant's tag."""
    return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"


@dataclass
class Fault:
    """What the server does to one request instead of answering it.

    kind: ``status`` (answer ``status`` with an error body, and ``Retry-After`` when ``retry_after``),
    ``sleep`` (wait ``seconds`` before answering normally, to outlast a client timeout),
    ``malformed`` (200 with a body that is not JSON), ``reset`` (read the request, then reset the
    connection; recorded with status 0).
    """

    kind: str
    status: int = 500
    retry_after: Optional[str] = None
    seconds: float = 0.0


class LLMTestServer:
    """``with LLMTestServer() as server:`` serves :class:`TinyCausalLM` at ``server.url`` until the block ends.

    ``faults`` are consumed one per request, in order; ``delay`` slows every request (to observe
    concurrency); ``script`` can replace the model's text for ``/v1/completions`` (crafted generations);
    ``max_in_flight``, ``requests`` (path and status) and ``bodies`` (path and JSON) record what the clients did.
    """

    def __init__(self, model: Optional[TinyCausalLM] = None, model_name: str = "tiny-char-lm") -> None:
        self.model = model or TinyCausalLM()
        self.model_name = model_name
        self.faults: Deque[Fault] = collections.deque()
        self.delay = 0.0
        self.script: Optional[Callable[[str], str]] = None
        self.requests: List[List[Any]] = []  # [path, status]; status None until answered, 0 for a reset
        self.bodies: List[Tuple[str, Any]] = []  # (path, the request's JSON, or None if it was not JSON)
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._epoch = 0  # bumped by reset(), so requests of an earlier test cannot touch the new statistics
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="llm-test-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def add_faults(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def reset(self) -> None:
        """Forgets faults, delay, script and statistics, for the next test on a shared server."""
        with self._lock:
            self._epoch += 1
            self.faults.clear()
            self.delay = 0.0
            self.script = None
            self.requests = []
            self.bodies = []
            self.in_flight = 0
            self.max_in_flight = 0

    def statuses(self) -> List[Optional[int]]:
        """The status of each request so far, in arrival order (None while one is still being served)."""
        with self._lock:
            return [status for _, status in self.requests]

    def __enter__(self) -> "LLMTestServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # Request handling.

    def _handler_class(self) -> type:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def finish(self) -> None:
                try:
                    super().finish()
                except (OSError, ValueError):
                    pass  # the client left (timed out) or the connection was reset on purpose

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    parsed = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    parsed = None
                with server._lock:
                    self._epoch = server._epoch
                    self._record = [self.path, None]
                    self._answered = False
                    server.requests.append(self._record)
                    server.bodies.append((self.path, parsed))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    fault = server.faults.popleft() if server.faults else None
                    delay = server.delay
                try:
                    self._serve(raw, fault, delay)
                finally:
                    self._answer(0)

            def _answer(self, status: int) -> None:
                """Records the outcome before the client can see it, so a test reading statistics right
                after its call returns finds them complete."""
                with server._lock:
                    if self._answered:
                        return
                    self._answered = True
                    self._record[1] = status
                    if self._epoch == server._epoch:
                        server.in_flight -= 1

            def _serve(self, raw: bytes, fault: Optional[Fault], delay: float) -> int:
                if delay:
                    time.sleep(delay)
                if fault is not None:
                    if fault.kind == "status":
                        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                        return self._send_json(fault.status, {"error": {"message": f"injected HTTP {fault.status}"}},
                                               headers)
                    if fault.kind == "malformed":
                        return self._send_bytes(200, b'{"choices": [ this is not JSON', "application/json")
                    if fault.kind == "reset":
                        self._answer(0)
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.connection.close()
                        self.close_connection = True
                        return 0
                    if fault.kind == "sleep":
                        time.sleep(fault.seconds)
                try:
                    request = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    return self._send_json(400, {"error": {"message": "body is not JSON"}})
                if request.get("model") != server.model_name:
                    return self._send_json(404, {"error": {"message": f"model {request.get('model')!r} not found"}})
                if self.path == "/v1/completions":
                    return self._send_json(200, server._completion(request))
                if self.path == "/v1/chat/completions":
                    return self._send_json(200, server._chat_completion(request))
                return self._send_json(404, {"error": {"message": f"no route {self.path}"}})

            def _send_json(self, status: int, body: Dict[str, Any], headers: Optional[Dict[str, str]] = None) -> int:
                return self._send_bytes(status, json.dumps(body).encode("utf-8"), "application/json", headers)

            def _send_bytes(self, status: int, data: bytes, content_type: str,
                            headers: Optional[Dict[str, str]] = None) -> int:
                self._answer(status)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting
                return status

        return Handler

    def _completion(self, request: Dict[str, Any]) -> Dict[str, Any]:
        prompt = request["prompt"]
        top = int(request.get("logprobs") or 0)
        if self.script is not None:
            text, records, finish = self.script(prompt), [], "stop"
        else:
            text, records, finish = self._generate(prompt, request, top)
        logprobs = None
        if top:
            logprobs = {"tokens": [r["token"] for r in records],
                        "token_logprobs": [r["logprob"] for r in records],
                        "top_logprobs": [dict(r["top"]) for r in records],
                        "text_offset": [len(prompt) + sum(len(p["token"]) for p in records[:i])
                                        for i in range(len(records))]}
        return {"id": "cmpl-test", "object": "text_completion", "created": int(time.time()), "model": self.model_name,
                "choices": [{"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}]}

    def _chat_completion(self, request: Dict[str, Any]) -> Dict[str, Any]:
        top = int(request.get("top_logprobs") or 0) if request.get("logprobs") else 0
        text, records, finish = self._generate(render_chat(request["messages"]), request, top)
        logprobs = None
        if top:
            logprobs = {"content": [{"token": r["token"], "logprob": r["logprob"],
                                     "top_logprobs": [{"token": t, "logprob": v} for t, v in r["top"]]}
                                    for r in records]}
        return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                "model": self.model_name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "logprobs": logprobs, "finish_reason": finish}]}

    def _generate(self, prompt: str, request: Dict[str, Any], top: int) -> Tuple[str, List[Dict[str, Any]], str]:
        text, records, finish = self.model.generate(prompt, int(request.get("max_tokens") or 16),
                                                    float(request.get("temperature") or 0.0),
                                                    int(request.get("seed") or 0), top)
        stops = request.get("stop") or []
        if isinstance(stops, str):
            stops = [stops]
        cuts = [text.find(s) for s in stops if s and s in text]
        if cuts:
            text, finish = text[: min(cuts)], "stop"
        return text, records, finish
