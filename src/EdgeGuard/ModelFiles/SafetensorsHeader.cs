using System.Text.Json;

namespace EdgeGuard.ModelFiles;

/// <summary>One tensor entry of a safetensors header, validated against the data section.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="DTypeName">The dtype as written in the file (<c>F32</c>, <c>I64</c>, ...).</param>
/// <param name="DType">The dtype if this runtime reads it, else null.</param>
/// <param name="Shape">Dimensions, outermost first.</param>
/// <param name="Begin">First byte, relative to the start of the data section.</param>
/// <param name="End">One past the last byte, relative to the start of the data section.</param>
internal sealed record SafetensorsEntry(string Name, string DTypeName, TensorDType? DType, long[] Shape, long Begin, long End);

/// <summary>
/// The JSON header of a safetensors file (<c>u64 little-endian length, JSON, data</c>), parsed with
/// <see cref="Utf8JsonReader"/> and checked before any tensor byte is touched: known dtypes, integer shapes,
/// offsets inside the data section, sizes equal to element count times element size, no two tensors overlapping.
/// </summary>
internal static class SafetensorsHeader
{
    /// <summary>The format's own limit; anything larger is corruption, not a model.</summary>
    public const long MaxHeaderLength = 100_000_000;

    private const string MetadataKey = "__metadata__";

    /// <summary>Parses and validates <paramref name="json"/>; entries come back ordered by offset.</summary>
    /// <exception cref="ModelFileException">Malformed JSON or an inconsistent entry; the message names <paramref name="origin"/> and the tensor.</exception>
    public static List<SafetensorsEntry> Parse(ReadOnlySpan<byte> json, long dataLength, string origin)
    {
        var entries = new List<SafetensorsEntry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
            Expect(ref reader, JsonTokenType.StartObject, origin, "the header");
            while (Read(ref reader, origin) && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                if (!names.Add(name))
                {
                    throw new ModelFileException($"{origin}: safetensors header lists '{name}' twice.");
                }

                if (name == MetadataKey)
                {
                    Read(ref reader, origin);
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        throw new ModelFileException($"{origin}: safetensors {MetadataKey} is not a JSON object.");
                    }

                    reader.Skip();
                    continue;
                }

                entries.Add(ParseEntry(ref reader, name, dataLength, origin));
            }

            if (reader.TokenType != JsonTokenType.EndObject)
            {
                throw new ModelFileException($"{origin}: safetensors header is not a JSON object of tensors.");
            }

            // Writers pad the header with spaces to align the data; anything else after the object is corruption.
            if (reader.Read())
            {
                throw new ModelFileException($"{origin}: safetensors header has data after its JSON object.");
            }
        }
        catch (JsonException e)
        {
            throw new ModelFileException($"{origin}: safetensors header is not valid JSON ({e.Message}).", e);
        }
        catch (InvalidOperationException e)
        {
            // Utf8JsonReader.GetString throws this for names that are not valid UTF-8.
            throw new ModelFileException($"{origin}: safetensors header contains invalid text ({e.Message}).", e);
        }

        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        for (int i = 1; i < entries.Count; i++)
        {
            if (entries[i].Begin < entries[i - 1].End)
            {
                throw new ModelFileException($"{origin}: tensors '{entries[i - 1].Name}' and '{entries[i].Name}' overlap in the data section.");
            }
        }

        return entries;
    }

    /// <summary>Bytes per element of a safetensors dtype name, or 0 if the name is unknown.</summary>
    public static int ElementSize(string dtype) => dtype switch
    {
        "BOOL" or "U8" or "I8" or "F8_E5M2" or "F8_E4M3" => 1,
        "U16" or "I16" or "F16" or "BF16" => 2,
        "U32" or "I32" or "F32" => 4,
        "U64" or "I64" or "F64" => 8,
        _ => 0,
    };

    private static SafetensorsEntry ParseEntry(ref Utf8JsonReader reader, string name, long dataLength, string origin)
    {
        Read(ref reader, origin);
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new ModelFileException($"{origin}: safetensors entry '{name}' is not a JSON object.");
        }

        string? dtype = null;
        long[]? shape = null;
        long[]? offsets = null;
        while (Read(ref reader, origin) && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("dtype"u8))
            {
                Read(ref reader, origin);
                if (reader.TokenType != JsonTokenType.String)
                {
                    throw new ModelFileException($"{origin}: tensor '{name}' has a dtype that is not a string.");
                }

                dtype = reader.GetString()!;
            }
            else if (reader.ValueTextEquals("shape"u8))
            {
                shape = ReadIntegers(ref reader, name, "shape", origin);
            }
            else if (reader.ValueTextEquals("data_offsets"u8))
            {
                offsets = ReadIntegers(ref reader, name, "data_offsets", origin);
            }
            else
            {
                Read(ref reader, origin);
                reader.Skip();
            }
        }

        if (dtype is null || shape is null || offsets is null)
        {
            throw new ModelFileException($"{origin}: tensor '{name}' lacks {(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}.");
        }

        int elementSize = ElementSize(dtype);
        if (elementSize == 0)
        {
            throw new ModelFileException($"{origin}: tensor '{name}' has unknown dtype '{dtype}'.");
        }

        if (offsets.Length != 2 || offsets[0] > offsets[1] || offsets[1] > dataLength)
        {
            throw new ModelFileException($"{origin}: tensor '{name}' has data_offsets [{string.Join(", ", offsets)}] outside the {dataLength}-byte data section (truncated file?).");
        }

        long expectedBytes = elementSize;
        foreach (long dimension in shape)
        {
            // Overflow means a corrupt shape; the bound keeps the product below any real file size.
            if (dimension != 0 && expectedBytes > dataLength / dimension)
            {
                expectedBytes = -1;
                break;
            }

            expectedBytes *= dimension;
        }

        if (expectedBytes != offsets[1] - offsets[0])
        {
            throw new ModelFileException(
                $"{origin}: tensor '{name}' {dtype} [{string.Join(", ", shape)}] needs {(expectedBytes < 0 ? "more than the file's" : expectedBytes.ToString(System.Globalization.CultureInfo.InvariantCulture))} bytes but data_offsets span {offsets[1] - offsets[0]}.");
        }

        TensorDType? supported = dtype switch
        {
            "F32" => TensorDType.F32,
            "F16" => TensorDType.F16,
            "BF16" => TensorDType.BF16,
            _ => null,
        };
        return new SafetensorsEntry(name, dtype, supported, shape, offsets[0], offsets[1]);
    }

    private static long[] ReadIntegers(ref Utf8JsonReader reader, string name, string field, string origin)
    {
        Read(ref reader, origin);
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new ModelFileException($"{origin}: tensor '{name}' has a {field} that is not an array.");
        }

        var values = new List<long>();
        while (Read(ref reader, origin) && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long value) || value < 0)
            {
                throw new ModelFileException($"{origin}: tensor '{name}' has a {field} entry that is not a non-negative integer.");
            }

            values.Add(value);
        }

        return [.. values];
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string origin, string what)
    {
        if (!reader.Read() || reader.TokenType != type)
        {
            throw new ModelFileException($"{origin}: safetensors {what} is not a JSON object.");
        }
    }

    private static bool Read(ref Utf8JsonReader reader, string origin)
    {
        if (!reader.Read())
        {
            throw new ModelFileException($"{origin}: safetensors header ends in the middle of its JSON.");
        }

        return true;
    }
}
