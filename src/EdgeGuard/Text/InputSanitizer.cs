using System.Buffers;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Text;

/// <summary>
/// Puts text into the form a guard model should judge, before any tokenizer sees it: what a reader sees, without the
/// invisible characters, direction tricks and styled letters that make a tokenizer see something else
/// (docs/decisions/0009-input-sanitizing.md). The training package's <c>edgeguard_train.sanitize</c> is the same
/// function; shared test vectors hold the two together.
/// </summary>
/// <remarks>
/// In order:
/// <list type="number">
/// <item>Lone surrogates become U+FFFD.</item>
/// <item>Reading order: where an override (LRO U+202D, RLO U+202E) forces characters to display against their own
/// direction, they are put in the order a reader sees them: an RLO scope's content is reversed, except that runs of
/// right-to-left letters (bidi class R/AL) keep their order; in an LRO scope only runs of right-to-left letters are
/// reversed. Combining marks stay with their base. Scopes follow the Unicode bidirectional algorithm's explicit rules
/// (X1–X8). Text without LRO/RLO keeps its order.</item>
/// <item>Removed: Default_Ignorable_Code_Point characters (soft hyphen, zero-width characters, word joiner, BOM,
/// variation selectors, tag characters, Hangul fillers, every bidi control, …) and control characters other than
/// TAB, LF, VT, FF and CR. NEL (U+0085) becomes LF.</item>
/// <item>Folded: characters whose NFKC form is plain ASCII become that ASCII (fullwidth forms, mathematical
/// alphanumerics, letterlike symbols, enclosed alphanumerics, ligatures, Roman numerals, odd spaces, …). Other
/// compatibility characters are left to the tokenizer's own normaliser.</item>
/// </list>
/// The tables are fixed (Unicode <see cref="SanitizerTables.UnicodeVersion"/>), not the platform's, so every device
/// and the training pipeline agree to the character.
/// </remarks>
public static class InputSanitizer
{
    private const int NextLine = 0x85;
    private const int LeftToRightOverride = 0x202D;
    private const int RightToLeftOverride = 0x202E;
    private const int ReplacementCharacter = 0xFFFD;

    // Printable ASCII needs nothing. (IndexOfAnyExceptInRange(' ', '~') on chars would do, but allocates on every call.)
    private static readonly SearchValues<char> PrintableAscii = SearchValues.Create(Enumerable.Range(' ', '~' - ' ' + 1).Select(c => (char)c).ToArray());

    // One bit per BMP character that sanitising changes (surrogates aside): most text is checked with one lookup a character.
    private static readonly ulong[] BmpChanges = BuildBmpChanges();

    /// <summary>
    /// <paramref name="text"/> as a guard model should see it; the same instance, with no allocation, when nothing
    /// needs to change (the common case).
    /// </summary>
    public static string Sanitize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int first = IndexOfFirstChange(text);
        return first < 0 ? text : SanitizeFrom(text, first);
    }

    /// <summary><paramref name="text"/> as a guard model should see it.</summary>
    public static string Sanitize(ReadOnlySpan<char> text)
    {
        int first = IndexOfFirstChange(text);
        return first < 0 ? text.ToString() : SanitizeFrom(text, first);
    }

    /// <summary>Whether <see cref="Sanitize(string)"/> would return <paramref name="text"/> unchanged.</summary>
    public static bool IsSanitized(ReadOnlySpan<char> text) => IndexOfFirstChange(text) < 0;

    /// <summary>Whether sanitising deletes <paramref name="codePoint"/>.</summary>
    internal static bool IsRemoved(int codePoint)
    {
        if (codePoint < 0x20 || (codePoint >= 0x7F && codePoint <= 0x9F))
        {
            return codePoint is not ('\t' or '\n' or '\v' or '\f' or '\r' or NextLine);
        }

        return InRanges(SanitizerTables.DefaultIgnorable, codePoint);
    }

    /// <summary>Index of the first UTF-16 unit of the first character that sanitising changes; -1 if none.</summary>
    private static int IndexOfFirstChange(ReadOnlySpan<char> text)
    {
        int i = 0;
        while (true)
        {
            int skip = text[i..].IndexOfAnyExcept(PrintableAscii);
            if (skip < 0)
            {
                return -1;
            }

            i += skip;
            char c = text[i];
            if (char.IsSurrogate(c))
            {
                if (!char.IsHighSurrogate(c) || i + 1 == text.Length || !char.IsLowSurrogate(text[i + 1]))
                {
                    return i;
                }

                if (ChangesSupplementary(char.ConvertToUtf32(c, text[i + 1])))
                {
                    return i;
                }

                i += 2;
            }
            else if ((BmpChanges[c >> 6] & (1UL << c)) != 0)
            {
                return i;
            }
            else
            {
                i++;
            }
        }
    }

    private static bool ChangesSupplementary(int codePoint) =>
        InRanges(SanitizerTables.DefaultIgnorable, codePoint) || SanitizerTables.FoldKeys.BinarySearch(codePoint) >= 0;

    /// <summary>The slow path: <paramref name="text"/>[..<paramref name="first"/>] is kept as it is, the rest is rebuilt.</summary>
    private static string SanitizeFrom(ReadOnlySpan<char> text, int first)
    {
        var output = new PooledBuffer<char>(text.Length + 16);
        var codePoints = new PooledBuffer<int>(text.Length - first);
        try
        {
            output.AddRange(text[..first]);
            bool overridden = DecodeCodePoints(text[first..], ref codePoints);
            if (overridden)
            {
                // Everything before the first override is outside every override scope, so the prefix is unaffected.
                foreach (int codePoint in BidiReadingOrder.Apply(codePoints.Span))
                {
                    AppendSanitized(codePoint, ref output);
                }
            }
            else
            {
                foreach (int codePoint in codePoints.Span)
                {
                    AppendSanitized(codePoint, ref output);
                }
            }

            return new string(output.Span);
        }
        finally
        {
            codePoints.Dispose();
            output.Dispose();
        }
    }

    /// <summary>Appends the code points of <paramref name="text"/> (lone surrogates as U+FFFD); true if it holds LRO or RLO.</summary>
    private static bool DecodeCodePoints(ReadOnlySpan<char> text, ref PooledBuffer<int> codePoints)
    {
        bool overridden = false;
        for (int i = 0; i < text.Length; i++)
        {
            int codePoint = text[i];
            if (char.IsSurrogate(text[i]))
            {
                if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    codePoint = char.ConvertToUtf32(text[i], text[i + 1]);
                    i++;
                }
                else
                {
                    codePoint = ReplacementCharacter;
                }
            }

            overridden |= codePoint is LeftToRightOverride or RightToLeftOverride;
            codePoints.Add(codePoint);
        }

        return overridden;
    }

    private static void AppendSanitized(int codePoint, ref PooledBuffer<char> output)
    {
        if (IsRemoved(codePoint))
        {
            return;
        }

        int fold = SanitizerTables.FoldKeys.BinarySearch(codePoint);
        if (fold >= 0)
        {
            var starts = SanitizerTables.FoldStarts;
            output.AddRange(SanitizerTables.FoldText.AsSpan(starts[fold], starts[fold + 1] - starts[fold]));
        }
        else if (codePoint == NextLine)
        {
            output.Add('\n');
        }
        else if (codePoint < 0x10000)
        {
            output.Add((char)codePoint);
        }
        else
        {
            output.Add((char)(0xD7C0 + (codePoint >> 10)));
            output.Add((char)(0xDC00 | (codePoint & 0x3FF)));
        }
    }

    /// <summary>Whether <paramref name="codePoint"/> lies in one of the inclusive [first, last] pairs of <paramref name="ranges"/>.</summary>
    internal static bool InRanges(ReadOnlySpan<int> ranges, int codePoint)
    {
        int lo = 0, hi = ranges.Length / 2;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (ranges[(2 * mid) + 1] < codePoint)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo < ranges.Length / 2 && ranges[2 * lo] <= codePoint;
    }

    private static ulong[] BuildBmpChanges()
    {
        var bits = new ulong[0x10000 / 64];
        for (int c = 0; c < 0x10000; c++)
        {
            bool changes = (c < 0xD800 || c > 0xDFFF)
                && (IsRemoved(c) || c == NextLine || SanitizerTables.FoldKeys.BinarySearch(c) >= 0);
            if (changes)
            {
                bits[c >> 6] |= 1UL << c;
            }
        }

        return bits;
    }
}
