using System.Buffers.Binary;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>The protobuf wire types a SentencePiece model can contain.</summary>
internal enum ProtobufWireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    Fixed32 = 5,
}

/// <summary>
/// A forward-only reader of the protobuf wire format over a byte span: just enough to read a
/// SentencePiece <c>ModelProto</c> without a protobuf package. Every malformed input (truncated varint,
/// length past the end, group or unknown wire type, field number 0) ends in a
/// <see cref="ModelFileException"/> naming the message being read; the reader never reads past its span.
/// </summary>
internal ref struct ProtobufReader
{
    private const int MaxVarintBytes = 10;

    private readonly ReadOnlySpan<byte> _data;
    private readonly string _messageName;
    private int _position;

    public ProtobufReader(ReadOnlySpan<byte> data, string messageName)
    {
        _data = data;
        _messageName = messageName;
        _position = 0;
    }

    public readonly bool IsAtEnd => _position >= _data.Length;

    /// <summary>Reads the next field key; false at the end of the message.</summary>
    public bool TryReadTag(out int fieldNumber, out ProtobufWireType wireType)
    {
        if (IsAtEnd)
        {
            fieldNumber = 0;
            wireType = default;
            return false;
        }

        int tagOffset = _position;
        ulong key = ReadVarint();
        ulong number = key >> 3;
        int type = (int)(key & 7);
        if (number == 0 || number > int.MaxValue)
        {
            throw Corrupt($"invalid field number {number} at byte {tagOffset}");
        }

        if (type is not (0 or 1 or 2 or 5))
        {
            throw Corrupt($"unsupported wire type {type} for field {number} at byte {tagOffset}");
        }

        fieldNumber = (int)number;
        wireType = (ProtobufWireType)type;
        return true;
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (int i = 0; i < MaxVarintBytes; i++)
        {
            if (_position >= _data.Length)
            {
                throw Corrupt("truncated varint");
            }

            byte b = _data[_position++];
            result |= (ulong)(b & 0x7F) << (7 * i);
            if (b < 0x80)
            {
                return result;
            }
        }

        throw Corrupt("varint longer than 10 bytes");
    }

    public ReadOnlySpan<byte> ReadLengthDelimited()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw Corrupt($"a field of {length} bytes runs past the end ({_data.Length - _position} bytes left)");
        }

        var slice = _data.Slice(_position, (int)length);
        _position += (int)length;
        return slice;
    }

    public uint ReadFixed32()
    {
        if (_data.Length - _position < 4)
        {
            throw Corrupt("truncated 32-bit field");
        }

        uint value = BinaryPrimitives.ReadUInt32LittleEndian(_data.Slice(_position, 4));
        _position += 4;
        return value;
    }

    public void SkipField(ProtobufWireType wireType)
    {
        switch (wireType)
        {
            case ProtobufWireType.Varint:
                ReadVarint();
                break;
            case ProtobufWireType.Fixed64:
                if (_data.Length - _position < 8)
                {
                    throw Corrupt("truncated 64-bit field");
                }

                _position += 8;
                break;
            case ProtobufWireType.LengthDelimited:
                ReadLengthDelimited();
                break;
            case ProtobufWireType.Fixed32:
                ReadFixed32();
                break;
        }
    }

    /// <summary>Reads an <c>int32</c> or enum field (negative values are sign-extended 10-byte varints).</summary>
    public int ReadInt32(int fieldNumber, ProtobufWireType wireType)
    {
        Expect(fieldNumber, wireType, ProtobufWireType.Varint);
        return unchecked((int)ReadVarint());
    }

    public bool ReadBool(int fieldNumber, ProtobufWireType wireType)
    {
        Expect(fieldNumber, wireType, ProtobufWireType.Varint);
        return ReadVarint() != 0;
    }

    public float ReadFloat(int fieldNumber, ProtobufWireType wireType)
    {
        Expect(fieldNumber, wireType, ProtobufWireType.Fixed32);
        return BitConverter.UInt32BitsToSingle(ReadFixed32());
    }

    public ReadOnlySpan<byte> ReadBytes(int fieldNumber, ProtobufWireType wireType)
    {
        Expect(fieldNumber, wireType, ProtobufWireType.LengthDelimited);
        return ReadLengthDelimited();
    }

    private readonly void Expect(int fieldNumber, ProtobufWireType actual, ProtobufWireType expected)
    {
        if (actual != expected)
        {
            throw Corrupt($"field {fieldNumber} has wire type {(int)actual}, expected {(int)expected}");
        }
    }

    private readonly ModelFileException Corrupt(string problem) =>
        new($"Corrupt SentencePiece model: {_messageName}: {problem}.");
}
