namespace EdgeGuard.Tokenization;

/// <summary>
/// The pre-tokenisation pattern of tiktoken's <c>cl100k_base</c>, which Llama 3 uses as it is and Qwen2 with single digits:
/// <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>,
/// matched by hand (no regex engine, no allocation) with the classes of <see cref="PreTokenizerText"/>; the alternatives
/// are tried in order, each as greedy as backtracking lets it be.
/// </summary>
internal static class Cl100kPreTokenizer
{
    /// <summary>Llama 3's pattern, as its <c>tokenizer.json</c> spells it.</summary>
    public const string Llama3Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Qwen2's pattern (Qwen2, Qwen2.5, Qwen3): Llama 3's with one digit per match.</summary>
    public const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Length in UTF-16 units of the match at the start of <paramref name="text"/> (not empty).</summary>
    /// <param name="text">The rest of the text.</param>
    /// <param name="maxDigits">How many numeric code points one match takes at most: 3 (Llama 3) or 1 (Qwen2).</param>
    public static int NextLength(ReadOnlySpan<char> text, int maxDigits)
    {
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if (text[0] == '\'' && text.Length > 1)
        {
            int contraction = ContractionLength(text[1..]);
            if (contraction > 0)
            {
                return 1 + contraction;
            }
        }

        CharClass first = PreTokenizerText.ClassAt(text, out int firstWidth);

        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (first == CharClass.Letter)
        {
            return PreTokenizerText.RunLength(text, CharClass.Letter);
        }

        if (first != CharClass.Number && !IsNewline(text[0]) && firstWidth < text.Length
            && PreTokenizerText.ClassAt(text[firstWidth..], out _) == CharClass.Letter)
        {
            return firstWidth + PreTokenizerText.RunLength(text[firstWidth..], CharClass.Letter);
        }

        // \p{N}{1,maxDigits}
        if (first == CharClass.Number)
        {
            int at = 0;
            for (int n = 0; n < maxDigits && at < text.Length && PreTokenizerText.ClassAt(text[at..], out int width) == CharClass.Number; n++)
            {
                at += width;
            }

            return at;
        }

        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        int symbolStart = text[0] == ' ' && text.Length > 1 && PreTokenizerText.ClassAt(text[1..], out _) == CharClass.Other ? 1 : 0;
        if (symbolStart == 1 || first == CharClass.Other)
        {
            int end = symbolStart + PreTokenizerText.RunLength(text[symbolStart..], CharClass.Other);
            while (end < text.Length && IsNewline(text[end]))
            {
                end++;
            }

            return end;
        }

        // \s*[\r\n]+: the white-space run up to and including its last line break.
        int run = PreTokenizerText.RunLength(text, CharClass.Space);
        int lastBreak = text[..run].LastIndexOfAny('\r', '\n');
        if (lastBreak >= 0)
        {
            return lastBreak + 1;
        }

        // \s+(?!\S)|\s+
        return PreTokenizerText.TrailingSpaceRunLength(text);
    }

    private static bool IsNewline(char c) => c is '\r' or '\n';

    // Case-insensitive as the Unicode regex engines fold: ſ (U+017F) folds to s.
    private static int ContractionLength(ReadOnlySpan<char> rest)
    {
        if (rest.Length >= 2)
        {
            char a = Fold(rest[0]), b = Fold(rest[1]);
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            {
                return 2;
            }
        }

        return Fold(rest[0]) is 's' or 't' or 'm' or 'd' ? 1 : 0;
    }

    private static char Fold(char c) => c switch
    {
        >= 'A' and <= 'Z' => (char)(c | 0x20),
        '\u017F' => 's',
        _ => c,
    };
}
