namespace EdgeGuard.Generation;

/// <summary>
/// Finds stop sequences in generated text as it streams: text that could be the start of a stop sequence is held back
/// until the next pieces show whether it is one, so a stop text is never emitted, even when tokens split it.
/// </summary>
/// <remarks>
/// Holds at most the longest stop sequence's length minus one characters between calls, plus the piece being added; the
/// buffer grows only to the longest piece seen. Not thread-safe: one per generator.
/// </remarks>
internal sealed class StopSequenceMatcher
{
    private readonly string[] _stops;
    private char[] _pending = new char[64];
    private int _count;

    public StopSequenceMatcher(IReadOnlyList<string> stops) => _stops = [.. stops];

    /// <summary>Whether a stop sequence has been found; nothing more is accepted after it until <see cref="Reset"/>.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Forgets held text and a found stop.</summary>
    public void Reset()
    {
        _count = 0;
        Stopped = false;
    }

    /// <summary>
    /// Adds <paramref name="piece"/> and returns the text that can be emitted now: all of it without stop sequences;
    /// otherwise the text before the first stop sequence found (and <see cref="Stopped"/> turns true), or the text
    /// before the longest end that starts a stop sequence.
    /// </summary>
    public string Push(string piece)
    {
        if (_stops.Length == 0)
        {
            return piece;
        }

        if (piece.Length == 0)
        {
            return string.Empty;
        }

        if (_pending.Length - _count < piece.Length)
        {
            Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _count + piece.Length));
        }

        piece.CopyTo(_pending.AsSpan(_count));
        _count += piece.Length;
        ReadOnlySpan<char> pending = _pending.AsSpan(0, _count);
        int first = -1;
        foreach (string stop in _stops)
        {
            int at = pending.IndexOf(stop.AsSpan(), StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first))
            {
                first = at;
            }
        }

        if (first >= 0)
        {
            Stopped = true;
            _count = 0;
            return new string(pending[..first]);
        }

        int held = HeldLength(pending);
        return Release(_count - held);
    }

    /// <summary>The held-back text, when generation ends for another reason.</summary>
    public string Flush() => Release(_count);

    private string Release(int length)
    {
        if (length == 0)
        {
            return string.Empty;
        }

        string text = new(_pending.AsSpan(0, length));
        _pending.AsSpan(length, _count - length).CopyTo(_pending);
        _count -= length;
        return text;
    }

    /// <summary>Length of the longest end of <paramref name="text"/> that is a proper start of some stop sequence.</summary>
    private int HeldLength(ReadOnlySpan<char> text)
    {
        int longest = 0;
        foreach (string stop in _stops)
        {
            for (int length = Math.Min(stop.Length - 1, text.Length); length > longest; length--)
            {
                if (text[^length..].SequenceEqual(stop.AsSpan(0, length)))
                {
                    longest = length;
                    break;
                }
            }
        }

        return longest;
    }
}
