"""The OpenAI-compatible backend against a real loopback server: shapes, P(unsafe), retries, timeouts, errors."""

import math
import socket
import time

import pytest

from edgeguard_train.llm_backends import (LLMHTTPError, LLMResponseError, LLMUnavailableError, LlamaGuardPrompt,
                                          OpenAICompatibleBackend, first_token_top_logprobs,
                                          unsafe_probability_from_top_logprobs)
from llm_server import Fault, LLMTestServer, render_chat

MODEL = "tiny-char-lm"
ALL_TOKENS = 200  # more than the tiny vocabulary: the server lists every token's log-probability


@pytest.fixture(scope="module")
def shared_server():
    with LLMTestServer() as server:
        yield server


@pytest.fixture
def server(shared_server):
    shared_server.reset()
    yield shared_server
    shared_server.reset()


def backend(server, **options):
    settings = dict(timeout=5.0, retries=3, backoff=0.01, top_logprobs=ALL_TOKENS)
    settings.update(options)
    return OpenAICompatibleBackend(server.url, MODEL, **settings)


def test_UnsafeProbability_Completions_EqualsModelSoftmaxOverVerdictTokens(server):
    guard = LlamaGuardPrompt()
    for prompt, response in [("How do I bake bread?", None), ("How do I hurt someone?", "Here is how.")]:
        served = backend(server).unsafe_probability(prompt, response)
        direct = server.model.verdict_probability(guard.render(prompt, response))
        assert 0.0 < served < 1.0
        assert abs(served - direct) < 1e-6


def test_UnsafeProbability_AsksForOneGreedyTokenWithTopLogprobs(server):
    backend(server).unsafe_probability("hi", "hello")
    (path, body), = server.bodies
    assert path == "/v1/completions" and body["model"] == MODEL
    assert body["max_tokens"] == 1 and body["temperature"] == 0.0 and body["logprobs"] == ALL_TOKENS
    assert body["prompt"] == LlamaGuardPrompt().render("hi", "hello")


def test_UnsafeProbability_PromptAndPair_DifferBecauseTheModelSeesDifferentText(server):
    only_prompt = backend(server).unsafe_probability("Tell me a joke")
    with_response = backend(server).unsafe_probability("Tell me a joke", "No.")
    assert abs(only_prompt - with_response) > 1e-9


def test_UnsafeProbability_ChatEndpoint_UsesServerChatTemplateAndChatLogprobShape(server):
    served = backend(server, teacher_endpoint="chat").unsafe_probability("Tell me a joke", "No.")
    direct = server.model.verdict_probability(render_chat(LlamaGuardPrompt.messages("Tell me a joke", "No.")))
    assert abs(served - direct) < 1e-6


def test_LlamaGuardPrompt_JudgesTheLastTurn():
    guard = LlamaGuardPrompt()
    user_only = guard.render("hi")
    pair = guard.render("hi", "hello")
    assert "'User' messages" in user_only and "ONLY THE LAST User message" in user_only
    assert "'Agent' messages" in pair and "Agent: hello" in pair
    assert "S14: Code Interpreter Abuse." in pair
    assert pair.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert not pair.startswith("<|begin_of_text|>")
    assert LlamaGuardPrompt(begin_of_text=True).render("hi").startswith("<|begin_of_text|>")


def test_TopLogprobs_SpellingsOfOneVerdictAddUp():
    top = {"safe": math.log(0.3), " safe": math.log(0.1), "\u2581unsafe": math.log(0.4), "x": math.log(0.2)}
    assert unsafe_probability_from_top_logprobs(top) == pytest.approx(0.4 / 0.8, abs=1e-12)


def test_TopLogprobs_MissingVerdict_BoundedBySmallestListedAndLeftoverMass():
    # unsafe is not listed: it has at most min(smallest listed 0.05, leftover 1 - 0.9 - 0.05 = 0.05).
    top = {"safe": math.log(0.9), "\n": math.log(0.05)}
    assert unsafe_probability_from_top_logprobs(top) == pytest.approx(0.05 / 0.95, abs=1e-12)
    # A full list leaves no mass over: the absent verdict gets nothing.
    assert unsafe_probability_from_top_logprobs({"unsafe": 0.0}) == 1.0


def test_TopLogprobs_NeitherVerdict_IsAResponseError():
    with pytest.raises(LLMResponseError, match="neither 'safe' nor 'unsafe'"):
        unsafe_probability_from_top_logprobs({"The": -0.1, "I": -2.5})


def test_FirstTokenTopLogprobs_WithoutLogprobs_SaysTheServerMustSupportThem():
    with pytest.raises(LLMResponseError, match="logprobs"):
        first_token_top_logprobs({"choices": [{"text": "safe", "logprobs": None}]})


def test_CompleteAndChat_ReturnTheModelsText(server):
    client = backend(server)
    first = client.complete("User: hi\nAssistant: I have an idea for a prompt:", 12, 1.0, seed=7)
    again = client.complete("User: hi\nAssistant: I have an idea for a prompt:", 12, 1.0, seed=7)
    assert isinstance(first, str) and first == again
    reply = client.chat([{"role": "system", "content": "Refuse."}, {"role": "user", "content": "hi"}], 8, 0.0)
    assert isinstance(reply, str)
    assert server.statuses() == [200, 200, 200]


def test_Retries_TransientServerErrors_SucceedWithTheSameAnswer(server):
    expected = backend(server).unsafe_probability("hello")
    server.reset()
    server.add_faults(Fault("status", 500), Fault("status", 503))
    assert backend(server).unsafe_probability("hello") == expected
    assert server.statuses() == [500, 503, 200]


def test_Retries_429_WaitsAtLeastRetryAfter(server):
    server.add_faults(Fault("status", 429, retry_after="1"))
    started = time.monotonic()
    backend(server).complete("x", 2)
    assert time.monotonic() - started >= 1.0
    assert server.statuses() == [429, 200]


def test_Retries_ConnectionReset_IsRetried(server):
    server.add_faults(Fault("reset"))
    backend(server).complete("x", 2)
    assert server.statuses() == [0, 200]


def test_Timeout_IsRetriedThenSucceeds(server):
    server.add_faults(Fault("sleep", seconds=1.5))
    backend(server, timeout=0.4, retries=1).complete("x", 2)
    assert len(server.statuses()) == 2


def test_Timeout_OnEveryAttempt_IsReportedWithTheAttemptCount(server):
    server.add_faults(Fault("sleep", seconds=1.5), Fault("sleep", seconds=1.5))
    with pytest.raises(LLMUnavailableError, match=r"after 2 attempts.*timed out"):
        backend(server, timeout=0.4, retries=1).complete("x", 2)


def test_PermanentClientError_IsNotRetried(server):
    server.add_faults(Fault("status", 400), Fault("status", 400))
    with pytest.raises(LLMHTTPError, match="HTTP 400") as caught:
        backend(server).complete("x", 2)
    assert caught.value.status == 400 and not caught.value.is_configuration_error
    assert server.statuses() == [400]


def test_UnknownModel_Is404ConfigurationError_NotRetried(server):
    client = OpenAICompatibleBackend(server.url, "no-such-model", retries=3, backoff=0.01)
    with pytest.raises(LLMHTTPError, match="no-such-model") as caught:
        client.chat([{"role": "user", "content": "hi"}], 2)
    assert caught.value.is_configuration_error
    assert server.statuses() == [404]


def test_MalformedJsonBody_IsAResponseErrorNamingTheUrl(server):
    server.add_faults(Fault("malformed"))
    with pytest.raises(LLMResponseError, match="/v1/completions: HTTP 200 but the body is not JSON"):
        backend(server).complete("x", 2)
    assert server.statuses() == [200]


def test_ConnectionRefused_IsRetriedThenReported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = OpenAICompatibleBackend(f"http://127.0.0.1:{port}", MODEL, retries=2, backoff=0.01, timeout=1.0)
    with pytest.raises(LLMUnavailableError, match=r"after 3 attempts.*Connection ?Refused|after 3 attempts.*refused"):
        client.complete("x", 2)


def test_BaseUrl_GetsV1Appended_AndBadSchemesAreRejected():
    assert OpenAICompatibleBackend("http://127.0.0.1:8000", MODEL).base_url == "http://127.0.0.1:8000/v1"
    assert OpenAICompatibleBackend("http://127.0.0.1:8000/v1/", MODEL).base_url == "http://127.0.0.1:8000/v1"
    with pytest.raises(ValueError, match="http"):
        OpenAICompatibleBackend("127.0.0.1:8000", MODEL)


def test_TransformersBackend_UnsafeProbability_EqualsSoftmaxOfItsOwnLogits():
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    torch = pytest.importorskip("torch")
    from edgeguard_train.llm_transformers import TransformersCausalLMBackend

    words = ["[UNK]", "[PAD]", "safe", "unsafe", "User", "Agent", "hello", "there"]
    vocab = {w: i for i, w in enumerate(words)}
    core = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]")
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=len(words), n_positions=512,
                                                                 n_embd=16, n_layer=1, n_head=2))
    local = TransformersCausalLMBackend("tiny-gpt2", model=model, tokenizer=tokenizer, device="cpu")
    text = LlamaGuardPrompt().render("hello", "there")
    with torch.no_grad():
        logits = model(tokenizer(text, return_tensors="pt").input_ids).logits[0, -1].double()
    expected = float(torch.softmax(torch.stack([logits[vocab["safe"]], logits[vocab["unsafe"]]]), dim=0)[1])
    assert abs(local.unsafe_probability("hello", "there") - expected) < 1e-6
    assert isinstance(local.complete("hello there", 3, 0.0), str)
