using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace EdgeGuard.ModelFiles.Gguf;

/// <summary>
/// A forward cursor over the mapped header region of a GGUF file. Every read is bounds-checked against the
/// region, so a corrupt length or count ends in a <see cref="ModelFileException"/>, never an out-of-range read.
/// </summary>
internal ref struct GgufSpanReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _path;
    private readonly long _fileLength;
    private int _position;

    public GgufSpanReader(ReadOnlySpan<byte> data, string path, long fileLength)
    {
        _data = data;
        _path = path;
        _fileLength = fileLength;
        _position = 0;
    }

    /// <summary>Offset of the next byte to read (the region starts at file offset 0).</summary>
    public readonly int Position => _position;

    /// <summary>Bytes left in the region.</summary>
    public readonly int Remaining => _data.Length - _position;

    public byte ReadUInt8(string what) => Take(1, what)[0];

    public uint ReadUInt32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));

    public ulong ReadUInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

    /// <summary>The next <paramref name="count"/> bytes, or a failure naming <paramref name="what"/>.</summary>
    public ReadOnlySpan<byte> Take(long count, string what)
    {
        if (count < 0 || count > Remaining)
        {
            ThrowTruncated(count, what);
        }

        ReadOnlySpan<byte> slice = _data.Slice(_position, (int)count);
        _position += (int)count;
        return slice;
    }

    /// <summary>A GGUF string (u64 length, then bytes) as its raw UTF-8 bytes.</summary>
    public ReadOnlySpan<byte> ReadStringBytes(string what)
    {
        ulong length = ReadUInt64(what);
        if (length > (ulong)Remaining)
        {
            ThrowTruncated(length > long.MaxValue ? -1 : (long)length, what);
        }

        return Take((long)length, what);
    }

    [DoesNotReturn]
    private readonly void ThrowTruncated(long count, string what)
    {
        string needed = count < 0 ? "an impossible length" : $"{count} bytes";
        string limit = _data.Length < _fileLength
            ? "the 2 GiB limit of the metadata region"
            : "the end of the file";
        throw new ModelFileException(
            $"{_path}: {what} at offset {_position} needs {needed}, past {limit} ({Remaining} bytes left); the file is truncated or corrupt");
    }
}
