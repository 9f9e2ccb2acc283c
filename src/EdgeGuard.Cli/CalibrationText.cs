using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace EdgeGuard.Cli;

/// <summary>
/// Texts of JSONL rows (or of a <c>.txt</c> file's lines) as the training pipeline selects them (<c>lm_data.read_texts</c>):
/// a row's text is its non-blank string <c>--text-fields</c> joined by a newline; <c>--where FIELD=VALUE</c> keeps rows whose
/// field equals one of the values given for it, a value that is not a string compared as Python's <c>json.dumps</c> spells
/// it (<c>null</c> for a missing field, <c>true</c>, <c>1</c>, <c>0.5</c>); a <c>.txt</c> file gives its non-blank lines. Blank
/// means Python's <c>str.strip()</c> leaves nothing, so the same rows count on both sides.
/// </summary>
internal static class CalibrationText
{
    /// <summary>The fields of <c>--text-fields</c>: comma-separated, blanks dropped.</summary>
    /// <exception cref="CliUsageException">No field is named.</exception>
    public static IReadOnlyList<string> ParseFields(string text)
    {
        string[] fields = [.. text.Split(',').Select(f => f.Trim()).Where(f => f.Length > 0)];
        return fields.Length > 0 ? fields : throw new CliUsageException($"--text-fields '{text}' names no field.");
    }

    /// <summary><c>--where</c> values as field → accepted values.</summary>
    /// <exception cref="CliUsageException">A value is not <c>FIELD=VALUE</c>.</exception>
    public static IReadOnlyDictionary<string, List<string>> ParseWhere(IEnumerable<string> values)
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (string value in values)
        {
            int equals = value.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new CliUsageException($"--where '{value}' is not FIELD=VALUE.");
            }

            string field = value[..equals];
            if (!result.TryGetValue(field, out List<string>? accepted))
            {
                result[field] = accepted = [];
            }

            accepted.Add(value[(equals + 1)..]);
        }

        return result;
    }

    /// <summary>The texts of the rows of <paramref name="paths"/> that match <paramref name="where"/>, in file order.</summary>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line is not UTF-8, not JSON or not an object (the message names file and line).</exception>
    /// <exception cref="CliUsageException">A <c>.txt</c> file is given with <c>--where</c>.</exception>
    public static List<string> Read(IEnumerable<string> paths, IReadOnlyList<string> fields, IReadOnlyDictionary<string, List<string>> where)
    {
        var texts = new List<string>();
        foreach (string path in paths)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"{path}: no such calibration file.", path);
            }

            if (path.EndsWith(".txt", StringComparison.Ordinal))
            {
                if (where.Count > 0)
                {
                    throw new CliUsageException($"{path}: a plain text file (one text per line) has no fields to filter with --where.");
                }

                texts.AddRange(Lines(path));
                continue;
            }

            long number = 0;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            foreach (byte[]? line in JsonlInput.Lines(stream))
            {
                number++;
                if (line is not null && line.AsSpan().Trim(" \t\n\r\v\f"u8).IsEmpty)
                {
                    continue;
                }

                Dictionary<string, JsonElement> row = Parse(path, number, line);
                if (Matches(row, where) && TextOf(row, fields, path, number) is { } text)
                {
                    texts.Add(text);
                }
            }
        }

        return texts;
    }

    /// <summary>Whether Python's <c>str.isspace</c> holds: Unicode's white space plus the separators U+001C–U+001F.</summary>
    public static bool IsPythonSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001C' and <= '\u001F';

    /// <summary><paramref name="element"/> as Python's <c>json.dumps</c> writes the value <c>json.loads</c> made of it.</summary>
    public static string PythonJsonSpelling(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => "null",
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.String => PythonJsonString(element.GetString()!),
        JsonValueKind.Number => PythonNumber(element.GetRawText()),
        JsonValueKind.Array => "[" + string.Join(", ", element.EnumerateArray().Select(PythonJsonSpelling)) + "]",
        _ => "{" + string.Join(", ", LastWins(element).Select(p => PythonJsonString(p.Key) + ": " + PythonJsonSpelling(p.Value))) + "}",
    };

    private static IEnumerable<string> Lines(string path)
    {
        // Python reads the file as UTF-8 (a byte-order mark stays text) with universal newlines; so does this reader.
        using var reader = new StreamReader(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: false);
        var lines = new List<string>();
        try
        {
            while (reader.ReadLine() is { } line)
            {
                if (!IsBlank(line))
                {
                    lines.Add(line);
                }
            }
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"{path}: line {lines.Count + 1} or after is not valid UTF-8.");
        }

        return lines;
    }

    private static Dictionary<string, JsonElement> Parse(string path, long number, byte[]? line)
    {
        if (line is null)
        {
            throw new InvalidDataException($"{path}:{number}: {JsonlInput.TooLongError}.");
        }

        if (!System.Text.Unicode.Utf8.IsValid(line))
        {
            throw new InvalidDataException($"{path}:{number}: not valid UTF-8.");
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 64 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{path}:{number}: not a JSON object.");
            }

            return LastWins(document.RootElement).ToDictionary(p => p.Key, p => p.Value.Clone(), StringComparer.Ordinal);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{number}: not valid JSON ({e.Message})");
        }
    }

    /// <summary>An object's members, a repeated name keeping its last value (as Python's <c>json.loads</c> does) at its first place.</summary>
    private static IEnumerable<KeyValuePair<string, JsonElement>> LastWins(JsonElement element)
    {
        var members = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (JsonProperty property in element.EnumerateObject())
        {
            if (!members.ContainsKey(property.Name))
            {
                order.Add(property.Name);
            }

            members[property.Name] = property.Value;
        }

        return order.Select(name => new KeyValuePair<string, JsonElement>(name, members[name]));
    }

    private static bool Matches(Dictionary<string, JsonElement> row, IReadOnlyDictionary<string, List<string>> where)
    {
        foreach ((string field, List<string> accepted) in where)
        {
            string value = !row.TryGetValue(field, out JsonElement element) ? "null"
                : element.ValueKind == JsonValueKind.String ? element.GetString()! : PythonJsonSpelling(element);
            if (!accepted.Contains(value, StringComparer.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static string? TextOf(Dictionary<string, JsonElement> row, IReadOnlyList<string> fields, string path, long number)
    {
        var parts = new List<string>();
        foreach (string field in fields)
        {
            if (row.TryGetValue(field, out JsonElement element) && element.ValueKind == JsonValueKind.String)
            {
                string text;
                try
                {
                    text = element.GetString()!;
                }
                catch (InvalidOperationException)
                {
                    throw new InvalidDataException($"{path}:{number}: field '{field}' escapes a lone UTF-16 surrogate, which is no text to tokenize.");
                }

                if (!IsBlank(text))
                {
                    parts.Add(text);
                }
            }
        }

        return parts.Count > 0 ? string.Join('\n', parts) : null;
    }

    private static bool IsBlank(string text)
    {
        foreach (char c in text)
        {
            if (!IsPythonSpace(c))
            {
                return false;
            }
        }

        return true;
    }

    private static string PythonNumber(string raw)
    {
        if (raw.AsSpan().IndexOfAny(".eE") < 0)
        {
            return BigInteger.Parse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
        }

        double value = double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (double.IsInfinity(value))
        {
            return value > 0 ? "Infinity" : "-Infinity";
        }

        return PythonFloatRepr(value);
    }

    /// <summary>Python's <c>repr(float)</c>: the shortest digits that read back, positional from 1e-4 to below 1e16, else <c>d.ddde±XX</c>.</summary>
    private static string PythonFloatRepr(double value)
    {
        string roundTrip = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);

        // Digits and the power of ten of the first one, from the round-trip spelling.
        int exponentAt = roundTrip.IndexOfAny(['E', 'e']);
        int exponent = exponentAt < 0 ? 0 : int.Parse(roundTrip.AsSpan(exponentAt + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        string mantissa = exponentAt < 0 ? roundTrip : roundTrip[..exponentAt];
        int point = mantissa.IndexOf('.', StringComparison.Ordinal);
        string digits = point < 0 ? mantissa : mantissa.Remove(point, 1);
        int integerDigits = point < 0 ? mantissa.Length : point;
        int leadingZeros = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        string sign = double.IsNegative(value) ? "-" : string.Empty;
        if (digits.Length == 0)
        {
            return sign + "0.0";
        }

        // value = 0.digits × 10^decimalPoint
        int decimalPoint = integerDigits - leadingZeros + exponent;
        if (decimalPoint is > -4 and <= 16)
        {
            if (decimalPoint <= 0)
            {
                return sign + "0." + new string('0', -decimalPoint) + digits;
            }

            return digits.Length <= decimalPoint
                ? sign + digits + new string('0', decimalPoint - digits.Length) + ".0"
                : sign + digits[..decimalPoint] + "." + digits[decimalPoint..];
        }

        string scientific = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
        int power = decimalPoint - 1;
        return sign + scientific + "e" + (power < 0 ? "-" : "+") + Math.Abs(power).ToString("00", CultureInfo.InvariantCulture);
    }

    private static string PythonJsonString(string text)
    {
        var quoted = new StringBuilder(text.Length + 2).Append('"');
        foreach (char c in text)
        {
            switch (c)
            {
                case '"': quoted.Append("\\\""); break;
                case '\\': quoted.Append("\\\\"); break;
                case '\n': quoted.Append("\\n"); break;
                case '\r': quoted.Append("\\r"); break;
                case '\t': quoted.Append("\\t"); break;
                case '\b': quoted.Append("\\b"); break;
                case '\f': quoted.Append("\\f"); break;
                default:
                    if (c < ' ' || c > '\u007f')
                    {
                        quoted.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    }
                    else
                    {
                        quoted.Append(c);
                    }

                    break;
            }
        }

        return quoted.Append('"').ToString();
    }
}
