using System.Runtime.InteropServices;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tests.Bundle;

/// <summary>
/// Tensors held in memory as raw little-endian bytes of their declared type, converted to float32 on read the
/// plain way (one element at a time), as an independent reference for the bundle's own conversions.
/// </summary>
internal sealed class InMemoryTensorSource(string origin = "in-memory test weights") : ITensorSource
{
    private readonly List<TensorInfo> _order = [];
    private readonly Dictionary<string, (TensorInfo Info, byte[] Raw)> _tensors = new(StringComparer.Ordinal);

    public string Origin { get; } = origin;

    public IReadOnlyCollection<TensorInfo> Tensors => _order;

    /// <summary>Called with the tensor name before each read; a test throws from it to fail a write midway.</summary>
    public Action<string>? BeforeRead { get; set; }

    /// <summary>Overrides the number of values a read returns, to imitate a source that disagrees with its shape.</summary>
    public int? ForcedReadLength { get; set; }

    public InMemoryTensorSource Add(string name, TensorDType dtype, long[] shape, byte[] raw)
    {
        var info = new TensorInfo(name, dtype, shape);
        if (raw.Length != info.ElementCount * TensorDTypes.SizeOf(dtype))
        {
            throw new ArgumentException($"{raw.Length} bytes do not fit {dtype} {info.ShapeText}.", nameof(raw));
        }

        _order.Add(info);
        _tensors.Add(name, (info, raw));
        return this;
    }

    public InMemoryTensorSource AddF32(string name, long[] shape, float[] values) =>
        Add(name, TensorDType.F32, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public TensorInfo? Find(string name) => _tensors.TryGetValue(name, out var t) ? t.Info : null;

    public ReadOnlyMemory<float> ReadFloat32(string name)
    {
        BeforeRead?.Invoke(name);
        if (!_tensors.TryGetValue(name, out var tensor))
        {
            throw new ModelFileException($"{Origin}: no tensor named '{name}'");
        }

        byte[] raw = tensor.Raw;
        float[] values = new float[tensor.Info.ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = tensor.Info.DType switch
            {
                TensorDType.F32 => BitConverter.ToSingle(raw, i * 4),
                TensorDType.F16 => (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(raw, i * 2)),
                _ => BitConverter.UInt32BitsToSingle((uint)BitConverter.ToUInt16(raw, i * 2) << 16),
            };
        }

        return ForcedReadLength is int length ? values.AsMemory(0, Math.Min(length, values.Length)) : values;
    }

    public void Dispose()
    {
    }
}
