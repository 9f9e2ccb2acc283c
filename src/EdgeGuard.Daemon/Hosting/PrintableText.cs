using System.Globalization;
using System.Text;

namespace EdgeGuard.Daemon.Hosting;

/// <summary>
/// Text from outside (request text, messages of failed model loads) made safe to put in a log line or a response: control
/// characters escaped so it cannot start a new log line, recolour a terminal or reorder what an operator reads, and
/// optionally bounded in length.
/// </summary>
internal static class PrintableText
{
    /// <summary>How much of a model load's error the daemon repeats: enough to name the file and the problem.</summary>
    public const int MaxErrorChars = 400;

    /// <summary>
    /// <paramref name="text"/> with backslashes doubled and C0, DEL, C1, U+2028/U+2029, bidirectional controls and lone
    /// surrogates written as <c>\n</c>, <c>\r</c>, <c>\t</c> or <c>\uXXXX</c>; the same string when nothing needs it.
    /// </summary>
    public static string Escape(string? text) => text is null ? string.Empty : Escape(text, int.MaxValue);

    /// <summary>Escapes like <see cref="Escape(string?)"/> and cuts the result at about <paramref name="maxChars"/>, marked with an ellipsis.</summary>
    public static string Escape(string text, int maxChars)
    {
        if (IndexOfUnsafe(text) < 0 && text.Length <= maxChars)
        {
            return text;
        }

        var escaped = new StringBuilder(Math.Min(text.Length, maxChars) + 16);
        int i = 0;
        for (; i < text.Length && escaped.Length < maxChars; i++)
        {
            char c = text[i];
            if (!NeedsEscape(c))
            {
                escaped.Append(c);
            }
            else if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                escaped.Append(c).Append(text[++i]);
            }
            else
            {
                _ = c switch
                {
                    '\\' => escaped.Append(@"\\"),
                    '\n' => escaped.Append(@"\n"),
                    '\r' => escaped.Append(@"\r"),
                    '\t' => escaped.Append(@"\t"),
                    _ => escaped.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}"),
                };
            }
        }

        if (i < text.Length)
        {
            escaped.Length = Math.Min(escaped.Length, maxChars);
            if (char.IsHighSurrogate(escaped[^1]))
            {
                escaped.Length--;
            }

            escaped.Append('…');
        }

        return escaped.ToString();
    }

    private static int IndexOfUnsafe(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (NeedsEscape(text[i]))
            {
                if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    i++;
                    continue;
                }

                return i;
            }
        }

        return -1;
    }

    private static bool NeedsEscape(char c) =>
        c < ' ' || c == '\\' || (c >= '\u007F' && c <= '\u009F')
        || c is '\u2028' or '\u2029' or '\u061C' or '\u200E' or '\u200F'
        || (c >= '\u202A' && c <= '\u202E') || (c >= '\u2066' && c <= '\u2069')
        || char.IsSurrogate(c);
}
