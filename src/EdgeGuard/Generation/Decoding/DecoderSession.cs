using EdgeGuard.Models;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Generation.Decoding;

/// <summary>
/// One conversation with a <see cref="DecoderModel"/>: the tokens so far, held as every layer's keys and values (a
/// float32 or float16 KV cache, <see cref="KeyValueCacheFormat"/>), so each new token costs one position's work. <see cref="Prefill"/> runs a prompt,
/// <see cref="Step"/> one token; both return the logits of the last position.
/// </summary>
/// <remarks>
/// A session is not thread-safe: one conversation runs one step at a time. Sessions of the same model run in parallel.
/// Bad input (an empty prompt, an id outside the vocabulary, more tokens than the context) is refused before anything
/// changes, so the session stays as it was.
/// </remarks>
public sealed class DecoderSession
{
    private readonly DecoderState _state;

    internal DecoderSession(DecoderModel model, int contextLength, KeyValueCacheFormat cacheFormat)
    {
        Model = model;
        _state = model.Graph.CreateState(contextLength, cacheFormat);
    }

    /// <summary>How the session stores keys and values.</summary>
    public KeyValueCacheFormat CacheFormat => _state.CacheFormat;

    /// <summary>The model this conversation runs.</summary>
    public DecoderModel Model { get; }

    /// <summary>Tokens the session holds (the position of the next one).</summary>
    public int Length => _state.Length;

    /// <summary>The most tokens the session may hold.</summary>
    public int ContextLength => _state.ContextLength;

    /// <summary>
    /// Runs <paramref name="tokens"/> after what the session holds and returns the logits of the last one (a view into
    /// the session, valid until its next call).
    /// </summary>
    /// <exception cref="ArgumentException">No tokens, an id outside the vocabulary, or more tokens than the context has room for.</exception>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens)
    {
        Check(tokens);
        Model.Graph.Forward(_state, tokens, default);
        return _state.Logits;
    }

    /// <summary>Runs one token; allocates nothing once the cache has grown to hold it.</summary>
    /// <exception cref="ArgumentException">An id outside the vocabulary, or a full context.</exception>
    public ReadOnlySpan<float> Step(int token)
    {
        ReadOnlySpan<int> one = new(in token);
        Check(one);
        Model.Graph.Forward(_state, one, default);
        return _state.Logits;
    }

    /// <summary>
    /// As <see cref="Prefill"/>, writing the logits of every position to <paramref name="logits"/>
    /// (<c>tokens.Length × VocabularySize</c>, row by row), to compare with a reference at each position.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="Prefill"/>, or <paramref name="logits"/> is too small.</exception>
    public void PrefillAllPositions(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        Check(tokens);
        long needed = (long)tokens.Length * Model.VocabularySize;
        if (logits.Length < needed)
        {
            throw new ArgumentException($"{tokens.Length} positions of {Model.VocabularySize} logits need {needed} values; the destination has {logits.Length}.", nameof(logits));
        }

        Model.Graph.Forward(_state, tokens, logits[..(int)needed]);
    }

    /// <summary>Shows <paramref name="observer"/> the input of every linear layer this session runs from now on (null: none).</summary>
    internal void ObserveLinearInputs(Models.Layers.ILinearInputObserver? observer) => _state.LinearInputObserver = observer;

    /// <summary>Forgets every token: the next call starts a new conversation (the cache keeps its memory).</summary>
    public void Reset() => _state.Length = 0;

    /// <summary>
    /// Forgets every token after the first <paramref name="length"/>: the next call continues from there, as if only those had
    /// been run (a conversation whose last turn was rewritten keeps the cache of what came before).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative or more than the session holds.</exception>
    public void Truncate(int length)
    {
        if ((uint)length > (uint)_state.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"The session holds {_state.Length} tokens; it can keep 0 to {_state.Length} of them.");
        }

        _state.Length = length;
    }

    private void Check(ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty)
        {
            throw new ArgumentException("The prompt is empty; a decoder needs at least one token to predict the next.", nameof(tokens));
        }

        int vocabulary = Model.VocabularySize;
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)vocabulary)
            {
                throw new ArgumentException($"Token {i} has id {tokens[i]}, outside the model's vocabulary of {vocabulary} (ids 0 to {vocabulary - 1}).", nameof(tokens));
            }
        }

        if ((long)_state.Length + tokens.Length > _state.ContextLength)
        {
            throw new ArgumentException(
                $"{tokens.Length} more tokens after the {_state.Length} the session holds exceed its context of {_state.ContextLength} tokens; start a new session (Reset) or keep fewer tokens.",
                nameof(tokens));
        }
    }
}
