using System.Text.Json;

namespace EdgeGuard.Cli;

/// <summary>One non-blank line of a JSONL input in the dataset schema, or why it could not be read.</summary>
/// <param name="Line">1-based line number.</param>
/// <param name="Id">The record's <c>id</c> as raw JSON (string or number), passed through to the output.</param>
internal sealed record JsonlRecord(int Line, string? Prompt, string? Response, string? Label, string? Id, string? Error);

/// <summary>
/// Reads JSONL records (<c>prompt</c>, optional <c>response</c>, <c>label</c>, <c>id</c>) as a stream. A line that is not
/// valid UTF-8 or not a JSON object with a string <c>prompt</c> becomes a record with an error; reading goes on.
/// </summary>
internal static class JsonlInput
{
    /// <summary>Records of <paramref name="path"/>, or of standard input when it is <c>-</c>.</summary>
    public static IEnumerable<JsonlRecord> Read(string path)
    {
        Stream stream = path == "-" ? Console.OpenStandardInput() : OpenFile(path);
        using (stream)
        {
            int lineNumber = 0;
            foreach (byte[] line in Lines(stream))
            {
                lineNumber++;
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
    }

    private static FileStream OpenFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file.", path);
        }

        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    private static JsonlRecord Parse(int lineNumber, ReadOnlySpan<byte> bytes)
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

    private static JsonlRecord Failed(int line, string error) => new(line, null, null, null, null, error);

    private static IEnumerable<byte[]> Lines(Stream stream)
    {
        var buffer = new byte[1 << 16];
        var line = new MemoryStream();
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            int start = 0;
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] == (byte)'\n')
                {
                    line.Write(buffer, start, i - start);
                    yield return line.ToArray();
                    line.SetLength(0);
                    start = i + 1;
                }
            }

            line.Write(buffer, start, read - start);
        }

        if (line.Length > 0)
        {
            yield return line.ToArray();
        }
    }
}
