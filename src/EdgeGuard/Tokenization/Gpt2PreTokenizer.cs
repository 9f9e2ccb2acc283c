namespace EdgeGuard.Tokenization;

/// <summary>
/// GPT-2's pre-tokenisation pattern <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>,
/// matched by hand (no regex engine, no allocation), with the classes of <see cref="PreTokenizerText"/>.
/// </summary>
internal static class Gpt2PreTokenizer
{
    /// <summary>The pattern as Hugging Face's <c>ByteLevel</c> pre-tokenizer runs it (and as a <c>Split</c> may spell it).</summary>
    public const string Regex = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Length in UTF-16 units of the match at the start of <paramref name="text"/> (not empty).</summary>
    public static int NextLength(ReadOnlySpan<char> text)
    {
        char first = text[0];
        if (first == '\'' && text.Length > 1)
        {
            int contraction = ContractionLength(text[1..]);
            if (contraction > 0)
            {
                return 1 + contraction;
            }
        }

        // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': one optional U+0020, then a run of one class.
        int start = first == ' ' && text.Length > 1 ? 1 : 0;
        CharClass head = PreTokenizerText.ClassAt(text[start..], out _);
        if (head != CharClass.Space)
        {
            return start + PreTokenizerText.RunLength(text[start..], head);
        }

        return PreTokenizerText.TrailingSpaceRunLength(text);
    }

    private static int ContractionLength(ReadOnlySpan<char> rest)
    {
        if (rest.StartsWith("re", StringComparison.Ordinal) || rest.StartsWith("ve", StringComparison.Ordinal) || rest.StartsWith("ll", StringComparison.Ordinal))
        {
            return 2;
        }

        return rest[0] is 's' or 't' or 'm' or 'd' ? 1 : 0;
    }
}
