using System.Buffers.Binary;
using System.Text;

namespace EdgeGuard.Tests.Bundle;

/// <summary>
/// Lays out GGUF bytes by hand, field by field as the specification lists them, with no validation:
/// the way to build files that are wrong in exactly one place, and an independent check of the writer's layout.
/// </summary>
internal sealed class RawGgufBuilder
{
    private readonly List<byte> _bytes = [];

    public int Length => _bytes.Count;

    public RawGgufBuilder Magic() => Bytes("GGUF"u8);

    /// <summary>Magic, version, tensor count and metadata count.</summary>
    public RawGgufBuilder Header(ulong tensorCount, ulong metadataCount, uint version = 3) =>
        Magic().U32(version).U64(tensorCount).U64(metadataCount);

    public RawGgufBuilder U8(byte value)
    {
        _bytes.Add(value);
        return this;
    }

    public RawGgufBuilder U32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return Bytes(b);
    }

    public RawGgufBuilder U64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return Bytes(b);
    }

    public RawGgufBuilder F32(float value) => U32(BitConverter.SingleToUInt32Bits(value));

    /// <summary>A GGUF string: u64 byte length, then UTF-8 bytes.</summary>
    public RawGgufBuilder Str(string value) => Str(Encoding.UTF8.GetBytes(value));

    public RawGgufBuilder Str(ReadOnlySpan<byte> utf8) => U64((ulong)utf8.Length).Bytes(utf8);

    /// <summary>A metadata pair whose value is a u32.</summary>
    public RawGgufBuilder KvU32(string key, uint value) => Str(key).U32(4).U32(value);

    /// <summary>A metadata pair whose value is a string.</summary>
    public RawGgufBuilder KvStr(string key, string value) => Str(key).U32(8).Str(value);

    /// <summary>A tensor info; dims are given as the file stores them, innermost first.</summary>
    public RawGgufBuilder TensorInfo(string name, uint ggmlType, ulong offset, params ulong[] dimsInnermostFirst)
    {
        Str(name).U32((uint)dimsInnermostFirst.Length);
        foreach (ulong d in dimsInnermostFirst)
        {
            U64(d);
        }

        return U32(ggmlType).U64(offset);
    }

    public RawGgufBuilder Bytes(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            _bytes.Add(b);
        }

        return this;
    }

    public RawGgufBuilder Zeros(int count) => Bytes(new byte[count]);

    public RawGgufBuilder PadTo(int alignment) => Zeros((alignment - (_bytes.Count % alignment)) % alignment);

    public byte[] ToArray() => [.. _bytes];
}
