using System.Globalization;
using System.Text;

namespace EdgeGuard.Tokenization;

/// <summary>
/// GPT-2's pre-tokenisation pattern <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>,
/// matched by hand (no regex engine, no allocation). <c>\s</c> is Unicode's White_Space property, as in Hugging Face's
/// Rust implementation (JavaScript's <c>\s</c> differs: it counts U+FEFF and not U+0085).
/// </summary>
internal static class Gpt2PreTokenizer
{
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
        CharClass head = ClassAt(text[start..], out _);
        if (head != CharClass.Space)
        {
            return start + RunLength(text[start..], head);
        }

        // '\s+(?!\S)' leaves the last space of a run before a non-space to the next match; a single one is '\s+'.
        int run = RunLength(text, CharClass.Space);
        int lastWidth = run >= 2 && char.IsLowSurrogate(text[run - 1]) && char.IsHighSurrogate(text[run - 2]) ? 2 : 1;
        return run == text.Length || RuneCount(text[..run]) == 1 ? run : run - lastWidth;
    }

    private static int ContractionLength(ReadOnlySpan<char> rest)
    {
        if (rest.StartsWith("re", StringComparison.Ordinal) || rest.StartsWith("ve", StringComparison.Ordinal) || rest.StartsWith("ll", StringComparison.Ordinal))
        {
            return 2;
        }

        return rest[0] is 's' or 't' or 'm' or 'd' ? 1 : 0;
    }

    private static int RunLength(ReadOnlySpan<char> text, CharClass kind)
    {
        int at = 0;
        while (at < text.Length && ClassAt(text[at..], out int width) == kind)
        {
            at += width;
        }

        return at;
    }

    private static int RuneCount(ReadOnlySpan<char> text)
    {
        int count = 0;
        for (int i = 0; i < text.Length; count++)
        {
            Rune.DecodeFromUtf16(text[i..], out _, out int width);
            i += width;
        }

        return count;
    }

    private static CharClass ClassAt(ReadOnlySpan<char> text, out int width)
    {
        // A lone surrogate has been replaced by U+FFFD before this runs; DecodeFromUtf16 would report it as U+FFFD anyway.
        Rune.DecodeFromUtf16(text, out Rune rune, out width);
        if (Rune.IsWhiteSpace(rune))
        {
            return CharClass.Space;
        }

        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharClass.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharClass.Number,
            _ => CharClass.Other,
        };
    }

    private enum CharClass
    {
        Space,
        Letter,
        Number,
        Other,
    }
}
