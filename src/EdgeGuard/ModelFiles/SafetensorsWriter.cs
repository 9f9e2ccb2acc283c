using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace EdgeGuard.ModelFiles;

/// <summary>
/// Writes float32 tensors as a <c>model.safetensors</c> file, the interchange format Hugging Face tools read.
/// Used to produce model directories (synthetic models of real shapes, test models); the runtime itself only reads them.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>One tensor to write: its name, shape (outermost first) and row-major float32 data.</summary>
    public readonly record struct Entry(string Name, long[] Shape, ReadOnlyMemory<float> Data);

    /// <summary>Writes <paramref name="tensors"/> to <paramref name="path"/> (atomically: temp file, then rename).</summary>
    /// <param name="metadata">The header's <c>__metadata__</c> strings (PyTorch's <c>save_pretrained</c> writes <c>format: pt</c>); null for none.</param>
    public static void Write(string path, IReadOnlyList<Entry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject("__metadata__");
                foreach (KeyValuePair<string, string> entry in metadata)
                {
                    json.WriteString(entry.Key, entry.Value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var t in tensors)
            {
                long count = 1;
                foreach (long d in t.Shape)
                {
                    count = checked(count * d);
                }

                if (count != t.Data.Length)
                {
                    throw new ArgumentException($"Tensor '{t.Name}': shape [{string.Join(", ", t.Shape)}] holds {count} elements but {t.Data.Length} were given.", nameof(tensors));
                }

                json.WriteStartObject(t.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (long d in t.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + (count * sizeof(float)));
                json.WriteEndArray();
                json.WriteEndObject();
                offset += count * sizeof(float);
            }

            json.WriteEndObject();
        }

        // Pad the header with spaces so the data section starts 8-byte aligned and float32 tensors can be mapped in place.
        int headerLength = (int)header.Length;
        int padded = (8 + headerLength + 7) / 8 * 8 - 8;
        header.Write(Encoding.ASCII.GetBytes(new string(' ', padded - headerLength)));

        string temp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
                file.Write(length);
                file.Write(header.GetBuffer().AsSpan(0, padded));
                foreach (var t in tensors)
                {
                    WriteLittleEndian(file, t.Data.Span);
                }

                file.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static void WriteLittleEndian(Stream stream, ReadOnlySpan<float> data)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(data));
            return;
        }

        Span<byte> four = stackalloc byte[4];
        foreach (float v in data)
        {
            BinaryPrimitives.WriteSingleLittleEndian(four, v);
            stream.Write(four);
        }
    }
}
