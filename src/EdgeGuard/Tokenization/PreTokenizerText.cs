using System.Globalization;
using System.Text;

namespace EdgeGuard.Tokenization;

/// <summary>
/// The character classes the byte-level pre-tokenisation patterns are written in (<c>\s</c>, <c>\p{L}</c>, <c>\p{N}</c>),
/// judged per code point without allocating. <c>\s</c> is Unicode's White_Space property, as in Hugging Face's Rust
/// implementation (JavaScript's <c>\s</c> differs: it counts U+FEFF and not U+0085). A lone surrogate reads as U+FFFD.
/// </summary>
internal static class PreTokenizerText
{
    /// <summary>The class of the code point at the start of <paramref name="text"/> and its width in UTF-16 units.</summary>
    public static CharClass ClassAt(ReadOnlySpan<char> text, out int width)
    {
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

    /// <summary>Length in UTF-16 units of the run of <paramref name="kind"/> code points at the start of <paramref name="text"/>.</summary>
    public static int RunLength(ReadOnlySpan<char> text, CharClass kind)
    {
        int at = 0;
        while (at < text.Length && ClassAt(text[at..], out int width) == kind)
        {
            at += width;
        }

        return at;
    }

    /// <summary>Number of code points in <paramref name="text"/>.</summary>
    public static int RuneCount(ReadOnlySpan<char> text)
    {
        int count = 0;
        for (int i = 0; i < text.Length; count++)
        {
            Rune.DecodeFromUtf16(text[i..], out _, out int width);
            i += width;
        }

        return count;
    }

    /// <summary>
    /// <c>\s+(?!\S)|\s+</c> at the start of <paramref name="text"/>, which starts with white space: the run, less its last
    /// code point when a non-space follows and the run has more than one (that one joins the next match).
    /// </summary>
    public static int TrailingSpaceRunLength(ReadOnlySpan<char> text)
    {
        int run = RunLength(text, CharClass.Space);
        int lastWidth = run >= 2 && char.IsLowSurrogate(text[run - 1]) && char.IsHighSurrogate(text[run - 2]) ? 2 : 1;
        return run == text.Length || RuneCount(text[..run]) == 1 ? run : run - lastWidth;
    }
}

/// <summary>The classes of <see cref="PreTokenizerText.ClassAt"/>.</summary>
internal enum CharClass
{
    Space,
    Letter,
    Number,
    Other,
}
