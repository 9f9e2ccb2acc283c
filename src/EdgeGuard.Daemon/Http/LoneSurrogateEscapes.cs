using System.Buffers.Text;

namespace EdgeGuard.Daemon.Http;

/// <summary>
/// JSON text may escape a lone UTF-16 surrogate (<c>"\ud800"</c>), which no string can hold as valid Unicode. The
/// library and the command line encode such text with every lone surrogate replaced by U+FFFD; the daemon applies the
/// same rule to request bodies by rewriting each such escape to <c>\uFFFD</c> before parsing. The rewrite keeps the
/// length, so positions in parser messages stay true.
/// </summary>
internal static class LoneSurrogateEscapes
{
    private const int EscapeLength = 6;

    /// <summary>Whether <paramref name="json"/> escapes a lone surrogate anywhere.</summary>
    public static bool Any(ReadOnlySpan<byte> json) => Next(json, 0) >= 0;

    /// <summary>Rewrites every escaped lone surrogate in <paramref name="json"/> to <c>\uFFFD</c>, in place.</summary>
    public static void Replace(Span<byte> json)
    {
        for (int at = Next(json, 0); at >= 0; at = Next(json, at + EscapeLength))
        {
            "FFFD"u8.CopyTo(json.Slice(at + 2, 4));
        }
    }

    /// <summary>
    /// Index of the backslash of the next escaped lone surrogate at or after <paramref name="from"/> (which must not lie
    /// inside an escape), or -1. In JSON a backslash only ever starts an escape inside a string, so walking escape by
    /// escape needs no other state; malformed escapes are left for the parser to report.
    /// </summary>
    private static int Next(ReadOnlySpan<byte> json, int from)
    {
        int i = from;
        while (i < json.Length)
        {
            int slash = json[i..].IndexOf((byte)'\\');
            if (slash < 0)
            {
                return -1;
            }

            i += slash;
            if (!TryReadUnicodeEscape(json, i, out int unit))
            {
                // \" \\ \n ... (or a malformed escape): two bytes.
                i += 2;
                continue;
            }

            if (char.IsHighSurrogate((char)unit) && TryReadUnicodeEscape(json, i + EscapeLength, out int next) && char.IsLowSurrogate((char)next))
            {
                i += 2 * EscapeLength;
                continue;
            }

            if (char.IsSurrogate((char)unit))
            {
                return i;
            }

            i += EscapeLength;
        }

        return -1;
    }

    private static bool TryReadUnicodeEscape(ReadOnlySpan<byte> json, int at, out int unit)
    {
        if (at + EscapeLength > json.Length || json[at] != '\\' || json[at + 1] != 'u'
            || !Utf8Parser.TryParse(json.Slice(at + 2, 4), out ushort value, out int consumed, 'x') || consumed != 4)
        {
            unit = 0;
            return false;
        }

        unit = value;
        return true;
    }
}
