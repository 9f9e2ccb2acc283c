using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tests.ModelFiles;

/// <summary>Writes small safetensors files for tests: entries laid out in order, header padded to 8 bytes.</summary>
internal sealed class SafetensorsTestWriter
{
    private readonly List<(string Name, string DType, long[] Shape, byte[] Data)> _entries = [];

    /// <summary>Bytes inserted before the first tensor (to misalign F32 data).</summary>
    public int LeadingPadding { get; init; }

    public SafetensorsTestWriter Add(string name, string dtype, long[] shape, byte[] data)
    {
        _entries.Add((name, dtype, shape, data));
        return this;
    }

    public SafetensorsTestWriter AddF32(string name, long[] shape, ReadOnlySpan<float> values) =>
        Add(name, "F32", shape, MemoryMarshal.AsBytes(values).ToArray());

    public SafetensorsTestWriter AddF16(string name, long[] shape, ReadOnlySpan<float> values)
    {
        var halves = new Half[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            halves[i] = (Half)values[i];
        }

        return Add(name, "F16", shape, MemoryMarshal.AsBytes(halves.AsSpan()).ToArray());
    }

    /// <summary>bfloat16 by round-to-nearest-even of the float bits.</summary>
    public SafetensorsTestWriter AddBF16(string name, long[] shape, ReadOnlySpan<float> values)
    {
        var bits = new ushort[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            uint f = BitConverter.SingleToUInt32Bits(values[i]);
            bits[i] = (ushort)((f + 0x7FFF + ((f >> 16) & 1)) >> 16);
        }

        return Add(name, "BF16", shape, MemoryMarshal.AsBytes(bits.AsSpan()).ToArray());
    }

    /// <summary>Every F32/F16/BF16 tensor of <paramref name="source"/>, converted to <paramref name="dtype"/>.</summary>
    public static SafetensorsTestWriter Convert(ITensorSource source, string dtype)
    {
        var writer = new SafetensorsTestWriter();
        foreach (TensorInfo tensor in source.Tensors)
        {
            ReadOnlySpan<float> values = source.ReadFloat32(tensor.Name).Span;
            long[] shape = [.. tensor.Shape];
            _ = dtype switch
            {
                "F16" => writer.AddF16(tensor.Name, shape, values),
                "BF16" => writer.AddBF16(tensor.Name, shape, values),
                _ => writer.AddF32(tensor.Name, shape, values),
            };
        }

        return writer;
    }

    public string Header()
    {
        var json = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = LeadingPadding;
        foreach (var (name, dtype, shape, data) in _entries)
        {
            json.Append($",\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{offset},{offset + data.Length}]}}");
            offset += data.Length;
        }

        json.Append('}');
        while ((8 + json.Length) % 8 != 0)
        {
            json.Append(' ');
        }

        return json.ToString();
    }

    public byte[] ToBytes() => Build(Header());

    /// <summary>The file with <paramref name="header"/> as its JSON and this writer's data.</summary>
    public byte[] Build(string header)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        using var stream = new MemoryStream();
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
        stream.Write(length);
        stream.Write(json);
        stream.Write(new byte[LeadingPadding]);
        foreach (var entry in _entries)
        {
            stream.Write(entry.Data);
        }

        return stream.ToArray();
    }

    public void Write(string path) => File.WriteAllBytes(path, ToBytes());
}

/// <summary>A temporary directory deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "edgeguard-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
