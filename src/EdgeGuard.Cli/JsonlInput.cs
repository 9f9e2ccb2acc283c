using System.Text.Json;

namespace EdgeGuard.Cli;

/// <summary>One non-blank line of a JSONL input in the dataset schema, or why it could not be read.</summary>
/// <param name="Line">1-based line number.</param>
/// <param name="Id">The record's <c>id</c> as raw JSON (string or number), passed through to the output.</param>
internal sealed record JsonlRecord(long Line, string? Prompt, string? Response, string? Label, string? Id, string? Error);

/// <summary>
/// Reads JSONL records (<c>prompt</c>, optional <c>response</c>, <c>label</c>, <c>id</c>) as a stream. A line that is
/// longer than <see cref="MaxLineBytes"/>, not valid UTF-8 (NUL bytes included) or not a JSON object with a string
/// <c>prompt</c> becomes a record with an error; reading goes on with the next line.
/// </summary>
internal static class JsonlInput
{
    /// <summary>
    /// Longest line read, in bytes (16 MiB): thousands of times a guard model's window, and a bound on what one line can
    /// make this process hold. The rest of a longer line is skipped without being kept.
    /// </summary>
    public const int MaxLineBytes = 16 * 1024 * 1024;

    /// <summary>The error of a line longer than <see cref="MaxLineBytes"/>.</summary>
    public const string TooLongError = "line is longer than 16 MiB (16777216 bytes), the longest line read; skipped";

    /// <summary>Records of <paramref name="path"/>, or of standard input when it is <c>-</c>.</summary>
    public static IEnumerable<JsonlRecord> Read(string path)
    {
        using Stream stream = Open(path);
        foreach (JsonlRecord record in Read(stream))
        {
            yield return record;
        }
    }

    /// <summary><paramref name="path"/> opened for reading, or standard input when it is <c>-</c>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static Stream Open(string path) => path == "-" ? Console.OpenStandardInput() : OpenFile(path);

    /// <summary>Records of <paramref name="stream"/> from its current position; the caller keeps and disposes it.</summary>
    public static IEnumerable<JsonlRecord> Read(Stream stream)
    {
        long lineNumber = 0;
        foreach (byte[]? line in Lines(stream))
        {
            lineNumber++;
            if (line is null)
            {
                yield return Failed(lineNumber, TooLongError);
                continue;
            }

            ReadOnlySpan<byte> bytes = line;
            if (lineNumber == 1 && bytes.StartsWith("\uFEFF"u8))
            {
                bytes = bytes[3..];
            }

            if (bytes.Trim(" \t\r"u8).IsEmpty)
            {
                continue;
            }

            yield return Parse(lineNumber, bytes);
        }
    }

    private static FileStream OpenFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file.", path);
        }

        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    private static JsonlRecord Parse(long lineNumber, ReadOnlySpan<byte> bytes)
    {
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            return Failed(lineNumber, "line is not valid UTF-8");
        }

        try
        {
            using var doc = JsonDocument.Parse(bytes.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Failed(lineNumber, "line is not a JSON object");
            }

            if (!root.TryGetProperty("prompt", out var prompt) || prompt.ValueKind != JsonValueKind.String)
            {
                return Failed(lineNumber, "object has no string field 'prompt'");
            }

            string? response = null;
            if (root.TryGetProperty("response", out var r))
            {
                if (r.ValueKind == JsonValueKind.String)
                {
                    response = StringOf(r);
                }
                else if (r.ValueKind != JsonValueKind.Null)
                {
                    return Failed(lineNumber, "field 'response' must be a string or null");
                }
            }

            string? label = root.TryGetProperty("label", out var l) && l.ValueKind == JsonValueKind.String ? StringOf(l) : null;
            string? id = root.TryGetProperty("id", out var i) && i.ValueKind is JsonValueKind.String or JsonValueKind.Number ? i.GetRawText() : null;
            return new JsonlRecord(lineNumber, StringOf(prompt), response, label, id, null);
        }
        catch (JsonException e)
        {
            return Failed(lineNumber, "invalid JSON: " + e.Message.ReplaceLineEndings(" "));
        }
    }

    /// <summary>
    /// The string's value. JSON may escape a lone UTF-16 surrogate (<c>"\ud800"</c>), which System.Text.Json refuses to
    /// return as a string; such text is still classified, with each lone surrogate replaced by U+FFFD as the tokenizer would.
    /// </summary>
    private static string StringOf(JsonElement element)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return UnescapeLeniently(element.GetRawText());
        }
    }

    private static string UnescapeLeniently(string quoted)
    {
        var text = new System.Text.StringBuilder(quoted.Length);
        for (int i = 1; i < quoted.Length - 1; i++)
        {
            char c = quoted[i];
            if (c != '\\')
            {
                text.Append(c);
                continue;
            }

            char e = quoted[++i];
            switch (e)
            {
                case 'u':
                    text.Append((char)Convert.ToUInt16(quoted.Substring(i + 1, 4), 16));
                    i += 4;
                    break;
                case 'b': text.Append('\b'); break;
                case 'f': text.Append('\f'); break;
                case 'n': text.Append('\n'); break;
                case 'r': text.Append('\r'); break;
                case 't': text.Append('\t'); break;
                default: text.Append(e); break;
            }
        }

        // Pairs stay pairs; only unpaired surrogates become U+FFFD.
        char[] chars = text.ToString().ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(chars[i]))
            {
                chars[i] = '\uFFFD';
            }
        }

        return new string(chars);
    }

    private static JsonlRecord Failed(long line, string error) => new(line, null, null, null, null, error);

    /// <summary>
    /// The lines of <paramref name="stream"/> without their <c>\n</c>, each as a new array; null for a line longer than
    /// <see cref="MaxLineBytes"/>, as soon as it is, whose remaining bytes are then dropped as they arrive.
    /// </summary>
    internal static IEnumerable<byte[]?> Lines(Stream stream)
    {
        var buffer = new byte[1 << 16];
        var line = new MemoryStream();
        bool tooLong = false;
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            int start = 0;
            while (true)
            {
                int newline = buffer.AsSpan(start, read - start).IndexOf((byte)'\n');
                int end = newline < 0 ? read : start + newline;
                if (!tooLong)
                {
                    if (line.Length + (end - start) > MaxLineBytes)
                    {
                        // Reported now, not at the line's end, which may never come (/dev/zero).
                        tooLong = true;
                        line.SetLength(0);
                        yield return null;
                    }
                    else
                    {
                        line.Write(buffer, start, end - start);
                    }
                }

                if (newline < 0)
                {
                    break;
                }

                if (!tooLong)
                {
                    yield return line.ToArray();
                }

                line.SetLength(0);
                tooLong = false;
                start = end + 1;
            }
        }

        if (!tooLong && line.Length > 0)
        {
            yield return line.ToArray();
        }
    }
}
