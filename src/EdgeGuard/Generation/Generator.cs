using System.Text;
using EdgeGuard.Generation.Decoding;
using EdgeGuard.Generation.Logits;
using EdgeGuard.Models.Layers;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Generation;

/// <summary>
/// Generates text with a <see cref="ModelGroup"/>: every member decodes in lock-step in a <see cref="DecoderSession"/> of its
/// own (its own KV cache), each step's rows go through the group's combiner and the <see cref="LogitsChain"/> to one token,
/// and that token is fed to every member. Ends at the tokenizer's end-of-sequence token, a stop token or stop sequence, the
/// most new tokens, a full context, or cancellation.
/// </summary>
/// <remarks>
/// <para>
/// One generator is one conversation: it runs one generation at a time (a second one at once is refused) and keeps its
/// sessions between generations, so a prompt that starts like what the sessions hold (the previous prompt and reply, as a
/// chat's next turn does) only runs the tokens after the part they share. The models are shared: any number of generators may use one
/// group at once.
/// </para>
/// <para>
/// Each token is computed on the thread that asks for it. A step allocates nothing but the strings of streamed text;
/// cancellation is checked before every step and between chunks of a long prompt, and leaves the sessions consistent, so
/// the generator can be used again at once.
/// </para>
/// </remarks>
public sealed class Generator
{
    /// <summary>Prompt tokens run between two cancellation checks: whole chunks of the graph, so the arithmetic is that of one call.</summary>
    private const int PrefillChunk = 4 * DecoderState.ChunkRows;

    private readonly ModelGroup _group;
    private readonly DecoderSession[] _sessions;
    private readonly float[][] _rows;
    private readonly ReadOnlyMemory<float>[] _partners;
    private readonly int[] _history;
    private readonly int[] _stopTokens;
    private readonly StopSequenceMatcher _stopSequences;
    private readonly IGenerativeTokenizer? _tokenizer;
    private readonly StringBuilder _text = new();
    private int _busy;

    private LogitsChain? _chain;
    private StreamingDecoder? _decoder;
    private int _promptLength;
    private int _length;
    private bool _promptTruncated;
    private FinishReason? _finish;

    /// <summary>A generator over <paramref name="group"/> whose sessions hold up to <paramref name="contextLength"/> tokens (0: the group's <see cref="ModelGroup.ContextLength"/>).</summary>
    /// <exception cref="ArgumentException">Options out of range, a context beyond a member's positions, or stop sequences for a group without a tokenizer.</exception>
    public Generator(ModelGroup group, GenerationOptions? options = null, int contextLength = 0)
    {
        ArgumentNullException.ThrowIfNull(group);
        options ??= new GenerationOptions();
        options.Validate();
        if (contextLength < 0 || contextLength > group.ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, $"The context must be 1 to {group.ContextLength} tokens (every member's positions), or 0 for all of them.");
        }

        _tokenizer = group.Tokenizer;
        if (_tokenizer is null && options.StopSequences.Count > 0)
        {
            throw new ArgumentException($"Stop sequences are matched on text, but the model '{group.Primary.Name}' has no tokenizer to decode its tokens.", nameof(options));
        }

        _group = group;
        Options = options;
        ContextLength = contextLength == 0 ? group.ContextLength : contextLength;
        int members = group.Members.Count;
        _sessions = new DecoderSession[members];
        _rows = new float[members][];
        for (int i = 0; i < members; i++)
        {
            _sessions[i] = group.Members[i].Model.CreateSession(ContextLength, options.KeyValueCache);
            _rows[i] = new float[group.VocabularySize];
        }

        _partners = new ReadOnlyMemory<float>[members - 1];
        for (int i = 1; i < members; i++)
        {
            _partners[i - 1] = _rows[i];
        }

        _history = new int[ContextLength + 1];
        _stopTokens = [.. (_tokenizer?.EosId is int eos ? options.StopTokenIds.Prepend(eos) : options.StopTokenIds).Distinct()];
        _stopSequences = new StopSequenceMatcher(options.StopSequences);
    }

    /// <summary>The models and how they combine.</summary>
    public ModelGroup Group => _group;

    /// <summary>How generations run.</summary>
    public GenerationOptions Options { get; }

    /// <summary>The most tokens the sessions hold: prompt and generated tokens together.</summary>
    public int ContextLength { get; }

    /// <summary>The outcome of the last generation that ended (a stream's too, cancelled or not), or null before the first.</summary>
    public GenerationResult? LastResult { get; private set; }

    /// <summary>Prompt tokens the last generation ran through the models: fewer than the prompt when the sessions held its start.</summary>
    internal int PromptTokensRun { get; private set; }

    /// <summary>
    /// The ids of <paramref name="prompt"/> as the model reads a plain prompt: the tokenizer's prefix (Llama's BOS) and the
    /// text, special-token spellings included as text. An empty text gives no ids (generation then starts from BOS).
    /// </summary>
    /// <exception cref="InvalidOperationException">The primary model has no tokenizer.</exception>
    public int[] EncodePrompt(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        IGenerativeTokenizer tokenizer = RequireTokenizer();
        if (prompt.Length == 0)
        {
            return [];
        }

        var ids = new List<int>(prompt.Length / 3 + 4);
        ids.AddRange(tokenizer.Template.Prefix);
        tokenizer.Encode(prompt.AsSpan(), ids);
        return [.. ids];
    }

    /// <summary>Generates a continuation of <paramref name="prompt"/> (see <see cref="EncodePrompt"/>).</summary>
    /// <returns>The text, tokens and finish reason; a cancelled generation returns what it had with <see cref="FinishReason.Cancelled"/>.</returns>
    /// <exception cref="ArgumentException">An empty prompt without a BOS token to start from, or a prompt longer than the context with <see cref="PromptOverflow.Refuse"/>.</exception>
    /// <exception cref="InvalidOperationException">Another generation of this generator is running.</exception>
    public GenerationResult Generate(string prompt, CancellationToken cancellationToken = default) => Generate(EncodePrompt(prompt), cancellationToken);

    /// <summary>Generates a continuation of the token ids <paramref name="prompt"/>, as given (no BOS added unless it is empty).</summary>
    /// <inheritdoc cref="Generate(string, CancellationToken)"/>
    public GenerationResult Generate(ReadOnlySpan<int> prompt, CancellationToken cancellationToken = default)
    {
        Begin(prompt, cancellationToken);
        try
        {
            while (_finish is null)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    _finish = FinishReason.Cancelled;
                    break;
                }

                Advance();
            }

            return End();
        }
        catch
        {
            Abort();
            throw;
        }
    }

    /// <summary>
    /// Streams the continuation of <paramref name="prompt"/> as pieces of complete text (never half a UTF-8 character, never
    /// a stop sequence or a start of one that the next tokens complete). <see cref="LastResult"/> holds the outcome once
    /// the stream ends. Cancellation stops it before the next step with an <see cref="OperationCanceledException"/>; so
    /// does disposing it early (<see cref="LastResult"/> then says <see cref="FinishReason.Cancelled"/>).
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="Generate(string, CancellationToken)"/>, when the enumeration starts.</exception>
    public IAsyncEnumerable<string> GenerateStreamingAsync(string prompt, CancellationToken cancellationToken = default) =>
        new GenerationStream(this, EncodePrompt(prompt), cancellationToken);

    /// <summary>Streams the continuation of the token ids <paramref name="prompt"/> (copied).</summary>
    /// <inheritdoc cref="GenerateStreamingAsync(string, CancellationToken)"/>
    public IAsyncEnumerable<string> GenerateStreamingAsync(ReadOnlySpan<int> prompt, CancellationToken cancellationToken = default) =>
        new GenerationStream(this, prompt.ToArray(), cancellationToken);

    /// <summary>Forgets what the sessions hold: the next generation runs its whole prompt.</summary>
    /// <exception cref="InvalidOperationException">A generation is running.</exception>
    public void Reset()
    {
        Acquire();
        ResetSessions();
        Volatile.Write(ref _busy, 0);
    }

    private IGenerativeTokenizer RequireTokenizer() =>
        _tokenizer ?? throw new InvalidOperationException($"The model '{_group.Primary.Name}' has no tokenizer; give the prompt as token ids.");

    private void Acquire()
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException("This generator is running a generation already; make one generator per concurrent conversation (they can share the models).");
        }
    }

    /// <summary>Checks the prompt, runs it through every session (what they do not hold yet) and prepares the first step.</summary>
    private void Begin(ReadOnlySpan<int> prompt, CancellationToken cancellationToken)
    {
        if (prompt.IsEmpty)
        {
            int bos = _tokenizer?.BosId ?? throw new ArgumentException(
                $"The prompt is empty and the model '{_group.Primary.Name}' has no beginning-of-sequence token to start from; give a prompt.", nameof(prompt));
            Begin([bos], cancellationToken);
            return;
        }

        int vocabulary = _group.VocabularySize;
        for (int i = 0; i < prompt.Length; i++)
        {
            if ((uint)prompt[i] >= (uint)vocabulary)
            {
                throw new ArgumentException($"Prompt token {i} has id {prompt[i]}, outside the vocabulary of {vocabulary} tokens.", nameof(prompt));
            }
        }

        bool truncated = false;
        if (prompt.Length > ContextLength)
        {
            if (Options.PromptOverflow == PromptOverflow.Refuse)
            {
                throw new ArgumentException(
                    $"The prompt has {prompt.Length} tokens, more than the context of {ContextLength}; shorten it, or keep its end (prompt overflow keep-end).", nameof(prompt));
            }

            int keep = ContextLength - Math.Min(Options.MaxNewTokens - 1, ContextLength / 2);
            prompt = prompt[^keep..];
            truncated = true;
        }

        Acquire();
        try
        {
            Prepare(prompt, truncated);
            Prefill(prompt, cancellationToken);
        }
        catch
        {
            Abort();
            throw;
        }
    }

    private void Prepare(ReadOnlySpan<int> prompt, bool truncated)
    {
        // The sessions hold _history[..held]: they keep what the prompt starts with (short of its last token, whose logits
        // the first step needs) and run only the rest.
        int held = _sessions[0].Length;
        int keep = prompt[..Math.Min(held, prompt.Length - 1)].CommonPrefixLength(_history.AsSpan(0, held));
        foreach (var session in _sessions)
        {
            session.Truncate(keep);
        }

        prompt.CopyTo(_history);
        _promptLength = prompt.Length;
        _length = prompt.Length;
        _promptTruncated = truncated;
        _finish = null;
        _text.Clear();
        _stopSequences.Reset();
        _decoder?.Dispose();
        _decoder = _tokenizer?.CreateStreamingDecoder();
        _chain = new LogitsChain(_group.VocabularySize, Options.Sampling, _group.Combiner);
    }

    private void Prefill(ReadOnlySpan<int> prompt, CancellationToken cancellationToken)
    {
        PromptTokensRun = prompt.Length - _sessions[0].Length;
        for (int start = _sessions[0].Length; start < prompt.Length; start += PrefillChunk)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                _finish = FinishReason.Cancelled;
                return;
            }

            int end = Math.Min(prompt.Length, start + PrefillChunk);
            ReadOnlySpan<int> chunk = prompt[start..end];
            for (int i = 0; i < _sessions.Length; i++)
            {
                ReadOnlySpan<float> logits = _sessions[i].Prefill(chunk);
                if (end == prompt.Length)
                {
                    logits.CopyTo(_rows[i]);
                }
            }
        }
    }

    /// <summary>One step: selects a token from the rows, decides whether it ends the generation, and feeds it to every session.</summary>
    /// <returns>The text that became complete (possibly empty).</returns>
    private string Advance()
    {
        int token = _chain!.Next(_rows[0], _partners, _history.AsSpan(0, _length));
        _history[_length++] = token;
        if (_stopTokens.AsSpan().Contains(token))
        {
            return Finish(FinishReason.Stop);
        }

        string piece = _decoder is null || token >= _tokenizer!.VocabularySize ? string.Empty : _stopSequences.Push(_decoder.Push(token));
        _text.Append(piece);
        if (_stopSequences.Stopped)
        {
            _finish = FinishReason.Stop;
            return piece;
        }

        if (_length - _promptLength == Options.MaxNewTokens || _sessions[0].Length == ContextLength)
        {
            return piece + Finish(FinishReason.Length);
        }

        for (int i = 0; i < _sessions.Length; i++)
        {
            _sessions[i].Step(token).CopyTo(_rows[i]);
        }

        return piece;
    }

    /// <summary>Ends the generation for <paramref name="reason"/> and returns the text held back until now.</summary>
    private string Finish(FinishReason reason)
    {
        _finish = reason;
        if (_decoder is null)
        {
            return string.Empty;
        }

        string rest = _stopSequences.Push(_decoder.Flush());
        if (_stopSequences.Stopped)
        {
            _finish = FinishReason.Stop;
        }
        else
        {
            rest += _stopSequences.Flush();
        }

        _text.Append(rest);
        return rest;
    }

    private GenerationResult End()
    {
        var result = new GenerationResult(
            _text.ToString(), _history.AsSpan(_promptLength, _length - _promptLength).ToArray(), _finish ?? FinishReason.Cancelled, _promptLength, _promptTruncated);
        LastResult = result;
        Release();
        return result;
    }

    /// <summary>After an error: the sessions may disagree, so they start over.</summary>
    private void Abort()
    {
        ResetSessions();
        Release();
    }

    private void Release()
    {
        _decoder?.Dispose();
        _decoder = null;
        _chain = null;
        Volatile.Write(ref _busy, 0);
    }

    private void ResetSessions()
    {
        foreach (var session in _sessions)
        {
            session.Reset();
        }
    }

    /// <summary>One streamed generation: an enumerable that can be enumerated once, and its enumerator.</summary>
    private sealed class GenerationStream(Generator generator, int[] prompt, CancellationToken cancellationToken) : IAsyncEnumerable<string>, IAsyncEnumerator<string>
    {
        private CancellationToken _token = cancellationToken;
        private CancellationTokenSource? _linked;
        private bool _enumerated;
        private bool _started;
        private bool _done;

        public string Current { get; private set; } = string.Empty;

        public IAsyncEnumerator<string> GetAsyncEnumerator(CancellationToken token = default)
        {
            if (_enumerated)
            {
                throw new InvalidOperationException("A generation stream can be enumerated once; start another generation for more.");
            }

            _enumerated = true;
            if (token.CanBeCanceled && token != _token)
            {
                if (_token.CanBeCanceled)
                {
                    _linked = CancellationTokenSource.CreateLinkedTokenSource(_token, token);
                    _token = _linked.Token;
                }
                else
                {
                    _token = token;
                }
            }

            return this;
        }

        public ValueTask<bool> MoveNextAsync()
        {
            if (_done)
            {
                return ValueTask.FromResult(false);
            }

            try
            {
                if (!_started)
                {
                    generator.Begin(prompt, _token);
                    _started = true;
                }

                while (true)
                {
                    if (generator._finish is null && _token.IsCancellationRequested)
                    {
                        generator._finish = FinishReason.Cancelled;
                    }

                    if (generator._finish is not null)
                    {
                        _done = true;
                        generator.End();
                        _token.ThrowIfCancellationRequested();
                        return ValueTask.FromResult(false);
                    }

                    string piece = generator.Advance();
                    if (piece.Length > 0)
                    {
                        Current = piece;
                        return ValueTask.FromResult(true);
                    }
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Begin cleans up after itself; only a generation that began is aborted here.
                if (_started && !_done)
                {
                    generator.Abort();
                }

                _done = true;
                throw;
            }
        }

        public ValueTask DisposeAsync()
        {
            if (_started && !_done)
            {
                // Left early: the generation ends as cancelled, the sessions hold what was run.
                _done = true;
                generator._finish = FinishReason.Cancelled;
                generator.End();
            }

            _done = true;
            _linked?.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
