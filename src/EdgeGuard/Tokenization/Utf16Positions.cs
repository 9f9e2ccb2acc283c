namespace EdgeGuard.Tokenization;

/// <summary>Maps offsets in the UTF-8 form of a text back to UTF-16 indexes of the text.</summary>
internal static class Utf16Positions
{
    /// <summary>
    /// Fills <paramref name="map"/> (UTF-8 length + 1 entries) so that <c>map[b]</c> is the index of the character that
    /// UTF-8 byte <c>b</c> belongs to (a byte inside a character maps to that character's start) and the last entry is
    /// <c>text.Length</c>. The UTF-8 form is <see cref="System.Text.Encoding.UTF8"/>'s: a lone surrogate is U+FFFD, 3 bytes.
    /// </summary>
    public static void MapUtf8ToUtf16(ReadOnlySpan<char> text, Span<int> map)
    {
        int at = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            int bytes;
            int start = i;
            if (c < 0x80)
            {
                bytes = 1;
            }
            else if (c < 0x800)
            {
                bytes = 2;
            }
            else if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                bytes = 4;
                i++;
            }
            else
            {
                bytes = 3;
            }

            map.Slice(at, bytes).Fill(start);
            at += bytes;
        }

        map[at] = text.Length;
    }
}
