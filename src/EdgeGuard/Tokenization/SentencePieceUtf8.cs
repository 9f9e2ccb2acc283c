namespace EdgeGuard.Tokenization;

/// <summary>
/// UTF-8 rules as SentencePiece applies them, which differ from .NET's decoders in how much of a malformed
/// sequence is consumed: SentencePiece always consumes exactly one byte of a malformed sequence.
/// </summary>
internal static class SentencePieceUtf8
{
    /// <summary>U+FFFD in UTF-8.</summary>
    public static ReadOnlySpan<byte> ReplacementCharacter => "\uFFFD"u8;

    /// <summary>U+2581 (▁), the meta symbol that stands for a space inside pieces.</summary>
    public static ReadOnlySpan<byte> MetaSpace => "\u2581"u8;

    /// <summary>
    /// The length of the character starting with <paramref name="lead"/>, judged from the lead byte alone
    /// (SentencePiece's <c>OneCharLen</c>): continuation bytes count as 1, 0xF8..0xFF as 4.
    /// </summary>
    public static int OneCharLength(byte lead) => (lead >> 4) switch
    {
        < 0xC => 1,
        < 0xE => 2,
        0xE => 3,
        _ => 4,
    };

    /// <summary>
    /// Whether <paramref name="text"/> starts with a well-formed character (no overlong form, no surrogate,
    /// nothing above U+10FFFF); <paramref name="length"/> is its length, or 1 when it is malformed.
    /// </summary>
    public static bool TryDecodeChar(ReadOnlySpan<byte> text, out int length)
    {
        length = 1;
        byte b0 = text[0];
        if (b0 < 0x80)
        {
            return true;
        }

        if ((b0 & 0xE0) == 0xC0)
        {
            if (text.Length >= 2 && IsTrail(text[1]))
            {
                int cp = ((b0 & 0x1F) << 6) | (text[1] & 0x3F);
                if (cp >= 0x80)
                {
                    length = 2;
                    return true;
                }
            }
        }
        else if ((b0 & 0xF0) == 0xE0)
        {
            if (text.Length >= 3 && IsTrail(text[1]) && IsTrail(text[2]))
            {
                int cp = ((b0 & 0x0F) << 12) | ((text[1] & 0x3F) << 6) | (text[2] & 0x3F);
                if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF))
                {
                    length = 3;
                    return true;
                }
            }
        }
        else if ((b0 & 0xF8) == 0xF0)
        {
            if (text.Length >= 4 && IsTrail(text[1]) && IsTrail(text[2]) && IsTrail(text[3]))
            {
                int cp = ((b0 & 0x07) << 18) | ((text[1] & 0x3F) << 12) | ((text[2] & 0x3F) << 6) | (text[3] & 0x3F);
                if (cp is >= 0x10000 and <= 0x10FFFF)
                {
                    length = 4;
                    return true;
                }
            }
        }

        return false;
    }

    private static bool IsTrail(byte b) => (b & 0xC0) == 0x80;
}
