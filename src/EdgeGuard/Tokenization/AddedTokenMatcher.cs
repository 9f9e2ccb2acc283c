namespace EdgeGuard.Tokenization;

/// <summary>
/// Finds the texts of added and special tokens in input, for callers that ask for special handling explicitly
/// (<see cref="IGenerativeTokenizer.EncodeWithSpecialTokens"/>): at each position the longest token text that starts
/// there wins, as Hugging Face's added-vocabulary split does. Immutable.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, (string Content, int Id)[]> _byFirstChar = [];

    public AddedTokenMatcher(IEnumerable<KeyValuePair<string, int>> tokens)
    {
        foreach (var group in tokens.Where(t => t.Key.Length > 0).GroupBy(t => t.Key[0]))
        {
            _byFirstChar[group.Key] = [.. group.OrderByDescending(t => t.Key.Length).ThenBy(t => t.Key, StringComparer.Ordinal).Select(t => (t.Key, t.Value))];
        }
    }

    /// <summary>The first token text in <paramref name="text"/>: its position, length and id; false when there is none.</summary>
    public bool TryFindNext(ReadOnlySpan<char> text, out int index, out int length, out int id)
    {
        for (int at = 0; at < text.Length; at++)
        {
            if (!_byFirstChar.TryGetValue(text[at], out var candidates))
            {
                continue;
            }

            foreach (var (content, tokenId) in candidates)
            {
                if (text[at..].StartsWith(content, StringComparison.Ordinal))
                {
                    (index, length, id) = (at, content.Length, tokenId);
                    return true;
                }
            }
        }

        (index, length, id) = (-1, 0, -1);
        return false;
    }

    /// <summary>
    /// Appends the ids of <paramref name="text"/> to <paramref name="ids"/>: each token text as its id, the text between
    /// them through <paramref name="encodeText"/>.
    /// </summary>
    public void Encode(ReadOnlySpan<char> text, List<int> ids, EncodeText encodeText)
    {
        while (TryFindNext(text, out int index, out int length, out int id))
        {
            encodeText(text[..index], ids);
            ids.Add(id);
            text = text[(index + length)..];
        }

        encodeText(text, ids);
    }

    /// <summary>Encodes text that holds no token text.</summary>
    public delegate void EncodeText(ReadOnlySpan<char> text, List<int> ids);
}
