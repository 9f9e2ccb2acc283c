using System.Buffers.Binary;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using EdgeGuard.Kernels.Memory;

namespace EdgeGuard.ModelFiles;

/// <summary>
/// A memory-mapped <c>.safetensors</c> file (the Hugging Face weight format): validated completely on open,
/// then read zero-copy for aligned F32 tensors and by conversion for F16, BF16 and unaligned F32.
/// </summary>
/// <remarks>
/// Tensors of other valid safetensors dtypes (for example an I64 <c>position_ids</c> buffer that older checkpoints
/// carry) are checked like the rest but are not listed in <see cref="Tensors"/>; reading one names its dtype.
/// Gaps between tensors are accepted; overlaps are not.
/// </remarks>
public sealed class SafetensorsFile : ITensorSource
{
    private readonly MemoryMappedRegion _region;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorsEntry> _entries;
    private readonly Dictionary<string, TensorInfo> _infos;

    private SafetensorsFile(string path, MemoryMappedRegion region, long dataStart, List<SafetensorsEntry> entries)
    {
        Origin = path;
        _region = region;
        _dataStart = dataStart;
        _entries = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        _infos = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        var ordered = new List<TensorInfo>();
        foreach (SafetensorsEntry entry in entries)
        {
            if (entry.DType is TensorDType dtype)
            {
                var info = new TensorInfo(entry.Name, dtype, entry.Shape);
                _infos.Add(entry.Name, info);
                ordered.Add(info);
            }
        }

        Tensors = ordered;
    }

    /// <inheritdoc />
    public string Origin { get; }

    /// <inheritdoc />
    public IReadOnlyCollection<TensorInfo> Tensors { get; }

    /// <summary>Maps and validates <paramref name="path"/>.</summary>
    /// <exception cref="ModelFileException">The file is missing, unreadable, truncated or not a valid safetensors file.</exception>
    public static SafetensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!BitConverter.IsLittleEndian)
        {
            throw new ModelFileException($"{path}: safetensors data is little-endian and this process is not.");
        }

        MemoryMappedRegion region;
        try
        {
            region = MemoryMappedRegion.Open(path);
        }
        catch (FileNotFoundException e)
        {
            throw new ModelFileException($"{path}: file not found.", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new ModelFileException($"{path}: directory not found.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ModelFileException($"{path}: not readable ({e.Message}).", e);
        }
        catch (IOException e)
        {
            throw new ModelFileException($"{path}: cannot be mapped ({e.Message}).", e);
        }

        try
        {
            if (region.Length < 8)
            {
                throw new ModelFileException($"{path}: {region.Length} bytes is too short for a safetensors file (truncated?).");
            }

            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(region.GetSpan(0, 8));
            if (headerLength < 2 || headerLength > SafetensorsHeader.MaxHeaderLength || (long)headerLength > region.Length - 8)
            {
                throw new ModelFileException($"{path}: safetensors header length {headerLength} is impossible for a {region.Length}-byte file (truncated or not safetensors).");
            }

            long dataStart = 8 + (long)headerLength;
            List<SafetensorsEntry> entries = SafetensorsHeader.Parse(region.GetSpan(8, (int)headerLength), region.Length - dataStart, path);
            return new SafetensorsFile(path, region, dataStart, entries);
        }
        catch
        {
            region.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public TensorInfo? Find(string name) => _infos.GetValueOrDefault(name);

    /// <inheritdoc />
    public ReadOnlyMemory<float> ReadFloat32(string name)
    {
        if (!_entries.TryGetValue(name, out SafetensorsEntry? entry))
        {
            throw new ModelFileException($"{Origin}: no tensor named '{name}'.");
        }

        if (entry.DType is not TensorDType dtype)
        {
            throw new ModelFileException($"{Origin}: tensor '{name}' has dtype {entry.DTypeName}; only F32, F16 and BF16 can be read.");
        }

        long count = (entry.End - entry.Begin) / TensorDTypes.SizeOf(dtype);
        if (count > Array.MaxLength)
        {
            throw new ModelFileException($"{Origin}: tensor '{name}' has {count} elements, more than one buffer can hold.");
        }

        long offset = _dataStart + entry.Begin;
        if (dtype == TensorDType.F32 && offset % sizeof(float) == 0)
        {
            return _region.GetMemory<float>(offset, (int)count);
        }

        float[] values = new float[count];
        ReadOnlySpan<byte> bytes = _region.GetSpan(offset, checked((int)(entry.End - entry.Begin)));
        switch (dtype)
        {
            case TensorDType.F32:
                bytes.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
                break;
            case TensorDType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), values);
                break;
            case TensorDType.BF16:
                WidenBFloat16(MemoryMarshal.Cast<byte, ushort>(bytes), values);
                break;
        }

        return values;
    }

    /// <inheritdoc />
    public void Dispose() => _region.Dispose();

    /// <summary>bfloat16 is the upper half of a float32: shift each value into the high 16 bits.</summary>
    private static void WidenBFloat16(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        Span<uint> bits = MemoryMarshal.Cast<float, uint>(destination);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i + Vector<ushort>.Count <= source.Length; i += Vector<ushort>.Count)
            {
                Vector.Widen(new Vector<ushort>(source.Slice(i)), out Vector<uint> low, out Vector<uint> high);
                (low << 16).CopyTo(bits.Slice(i));
                (high << 16).CopyTo(bits.Slice(i + Vector<uint>.Count));
            }
        }

        for (; i < source.Length; i++)
        {
            bits[i] = (uint)source[i] << 16;
        }
    }
}
