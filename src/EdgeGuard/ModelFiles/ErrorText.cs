using System.Globalization;
using System.Text;

namespace EdgeGuard.ModelFiles;

/// <summary>
/// Error messages that may quote a file's content: one line, bounded length. A model file or a JSONL line is input
/// anyone can write, so nothing quoted from it may make an error line multi-line, huge, or a terminal escape.
/// </summary>
internal static class ErrorText
{
    /// <summary>Longest message, in characters. Long enough for two long paths and the problem, short enough to read.</summary>
    public const int MaxMessageLength = 1024;

    /// <summary>Longest quoted value, in characters, before it is cut.</summary>
    public const int MaxQuotedLength = 64;

    /// <summary>Most list items a message shows before it says how many more there are.</summary>
    public const int MaxListedItems = 8;

    /// <summary>Characters kept from the end of an over-long message: the end usually says what to do.</summary>
    private const int KeptTail = 256;

    /// <summary>
    /// <paramref name="message"/> as one line of at most <see cref="MaxMessageLength"/> characters: line breaks and other
    /// control characters become spaces; an over-long message keeps its start (the file) and its end (the problem and
    /// the fix) and says how long it was.
    /// </summary>
    public static string OneBoundedLine(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Length > MaxMessageLength)
        {
            string marker = string.Create(CultureInfo.InvariantCulture, $" […cut from {message.Length} characters…] ");
            int head = MaxMessageLength - KeptTail - marker.Length;
            int tailStart = message.Length - KeptTail;

            // Never split a surrogate pair.
            if (char.IsHighSurrogate(message[head - 1]))
            {
                head--;
            }

            if (char.IsLowSurrogate(message[tailStart]))
            {
                tailStart++;
            }

            message = string.Concat(message.AsSpan(0, head), marker, message.AsSpan(tailStart));
        }

        foreach (char c in message)
        {
            if (BreaksTheLine(c))
            {
                return ReplaceLineBreaking(message);
            }
        }

        return message;
    }

    /// <summary>
    /// <paramref name="value"/> quoted for a message as a JSON string literal (quotes, backslashes and control
    /// characters escaped), cut to <see cref="MaxQuotedLength"/> characters with a note of the full length; <c>null</c> for null.
    /// </summary>
    public static string Quote(string? value)
    {
        if (value is null)
        {
            return "null";
        }

        int shown = Math.Min(value.Length, MaxQuotedLength);
        if (shown < value.Length && char.IsHighSurrogate(value[shown - 1]))
        {
            shown--;
        }

        var text = new StringBuilder(shown + 16).Append('"');
        for (int i = 0; i < shown; i++)
        {
            char c = value[i];
            bool pair = char.IsHighSurrogate(c) && i + 1 < shown && char.IsLowSurrogate(value[i + 1]);
            if (pair)
            {
                text.Append(c).Append(value[++i]);
            }
            else if (c is '"' or '\\')
            {
                text.Append('\\').Append(c);
            }
            else if (BreaksTheLine(c) || char.IsSurrogate(c))
            {
                text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                text.Append(c);
            }
        }

        text.Append('"');
        if (shown < value.Length)
        {
            text.Append(CultureInfo.InvariantCulture, $"…({value.Length} characters)");
        }

        return text.ToString();
    }

    /// <summary>
    /// <paramref name="values"/> as <c>["a", "b", …]</c>, each quoted by <see cref="Quote"/>, at most
    /// <see cref="MaxListedItems"/> of them, then how many more there are; <c>null</c> for null.
    /// </summary>
    public static string QuoteList(IEnumerable<string>? values)
    {
        if (values is null)
        {
            return "null";
        }

        var text = new StringBuilder("[");
        int count = 0;
        foreach (string value in values)
        {
            if (count < MaxListedItems)
            {
                text.Append(count == 0 ? string.Empty : ", ").Append(Quote(value));
            }

            count++;
        }

        if (count > MaxListedItems)
        {
            text.Append(CultureInfo.InvariantCulture, $", … {count - MaxListedItems} more");
        }

        return text.Append(']').ToString();
    }

    /// <summary>Control characters (line breaks, tabs, terminal escapes) and the Unicode line and paragraph separators.</summary>
    private static bool BreaksTheLine(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';

    private static string ReplaceLineBreaking(string message) =>
        string.Create(message.Length, message, static (span, source) =>
        {
            for (int i = 0; i < source.Length; i++)
            {
                char c = source[i];
                span[i] = BreaksTheLine(c) ? ' ' : c;
            }
        });
}
