using System.Text;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Onnx;

/// <summary>
/// The operator types of an ONNX model's main graph, read straight from the protobuf. ONNX Runtime's API does not list a
/// graph's nodes, and the operators are what tells a quantized model from a float one. The scan skips initializers and
/// every other field by length, so it reads a few kilobytes of a model of any size; on the way it checks the framing,
/// which turns an empty, truncated or foreign file into a message about the file rather than a parser error.
/// </summary>
internal sealed class OnnxGraphOperators
{
    // Operators that compute in (or store weights as) 8-bit integers: ONNX's integer and QLinear operators, the
    // quantize/dequantize pairs of QDQ models, and ONNX Runtime's contrib ops that quantizers emit.
    private static readonly string[] Int8Operators =
    [
        "MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "QuantizeLinear", "DequantizeLinear",
        "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QAttention", "QEmbedLayerNormalization", "QGemm", "QOrderedMatMul",
    ];

    // Field numbers of onnx.proto3 (ModelProto.graph, GraphProto.node, NodeProto.op_type).
    private const int ModelGraphField = 7;
    private const int GraphNodeField = 1;
    private const int NodeOpTypeField = 4;
    private const int MaxOpTypeBytes = 1024;

    private OnnxGraphOperators(IReadOnlySet<string> operators, int nodes)
    {
        Operators = operators;
        Nodes = nodes;
    }

    /// <summary>Distinct operator types of the main graph.</summary>
    public IReadOnlySet<string> Operators { get; }

    /// <summary>Nodes of the main graph.</summary>
    public int Nodes { get; }

    /// <summary>True when an operator computes in or stores 8-bit integers (MatMulInteger, DynamicQuantizeLinear, QLinear*, …).</summary>
    public bool IsQuantized => Operators.Any(op => op.StartsWith("QLinear", StringComparison.Ordinal) || Array.IndexOf(Int8Operators, op) >= 0);

    /// <summary>Scans <paramref name="path"/>.</summary>
    /// <exception cref="ModelFileException">The file is empty, truncated, not protobuf, or has no graph with nodes.</exception>
    public static OnnxGraphOperators Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 12);
        if (stream.Length == 0)
        {
            throw new ModelFileException($"{path}: the file is empty; expected an ONNX model.");
        }

        var reader = new ProtoReader(stream, path);
        long graphStart = -1, graphEnd = -1;
        while (reader.Position < stream.Length)
        {
            var (field, wireType) = reader.ReadTag();
            if (field == ModelGraphField && wireType == ProtoReader.LengthDelimited)
            {
                graphEnd = reader.ReadLength(stream.Length) + reader.Position;
                graphStart = reader.Position;
                reader.Seek(graphEnd);
            }
            else
            {
                reader.Skip(wireType, stream.Length);
            }
        }

        if (graphStart < 0)
        {
            throw new ModelFileException($"{path}: not an ONNX model: it has no graph.");
        }

        var operators = new HashSet<string>(StringComparer.Ordinal);
        int nodes = 0;
        reader.Seek(graphStart);
        while (reader.Position < graphEnd)
        {
            var (field, wireType) = reader.ReadTag();
            if (field == GraphNodeField && wireType == ProtoReader.LengthDelimited)
            {
                long nodeEnd = reader.ReadLength(graphEnd) + reader.Position;
                operators.Add(ReadOpType(reader, nodeEnd));
                nodes++;
                reader.Seek(nodeEnd);
            }
            else
            {
                reader.Skip(wireType, graphEnd);
            }
        }

        if (nodes == 0)
        {
            throw new ModelFileException($"{path}: not an ONNX model: its graph has no nodes.");
        }

        return new OnnxGraphOperators(operators, nodes);
    }

    private static string ReadOpType(ProtoReader reader, long nodeEnd)
    {
        string opType = string.Empty;
        while (reader.Position < nodeEnd)
        {
            var (field, wireType) = reader.ReadTag();
            if (field == NodeOpTypeField && wireType == ProtoReader.LengthDelimited)
            {
                opType = reader.ReadString(nodeEnd, MaxOpTypeBytes);
            }
            else
            {
                reader.Skip(wireType, nodeEnd);
            }
        }

        return opType;
    }

    /// <summary>Protobuf wire-format primitives over a seekable stream, each checked against the end of its message.</summary>
    private sealed class ProtoReader(FileStream stream, string path)
    {
        public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

        public long Position => stream.Position;

        public (int Field, int WireType) ReadTag()
        {
            long at = stream.Position;
            ulong tag = ReadVarint();
            int wireType = (int)(tag & 7);
            ulong field = tag >> 3;
            if (field == 0 || field > int.MaxValue || wireType is not (Varint or Fixed64 or LengthDelimited or Fixed32))
            {
                throw Malformed(at, $"invalid field tag {tag}");
            }

            return ((int)field, wireType);
        }

        public long ReadLength(long end)
        {
            long at = stream.Position;
            ulong length = ReadVarint();
            if (length > (ulong)(end - stream.Position))
            {
                throw Truncated(at, length, end - stream.Position);
            }

            return (long)length;
        }

        public string ReadString(long end, int maxBytes)
        {
            long at = stream.Position;
            long length = ReadLength(end);
            if (length > maxBytes)
            {
                throw Malformed(at, $"a {length}-byte operator name");
            }

            Span<byte> bytes = stackalloc byte[(int)length];
            stream.ReadExactly(bytes);
            return Encoding.UTF8.GetString(bytes);
        }

        public void Skip(int wireType, long end)
        {
            long at = stream.Position;
            long length = wireType switch
            {
                Varint => 0,
                Fixed64 => 8,
                Fixed32 => 4,
                _ => ReadLength(end),
            };
            if (wireType == Varint)
            {
                ReadVarint();
            }
            else if (length > end - stream.Position)
            {
                throw Truncated(at, (ulong)length, end - stream.Position);
            }
            else
            {
                stream.Seek(length, SeekOrigin.Current);
            }

            if (stream.Position > end)
            {
                throw Malformed(at, "a field that runs past the end of its message");
            }
        }

        public void Seek(long position) => stream.Position = position;

        private ulong ReadVarint()
        {
            long at = stream.Position;
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                int b = stream.ReadByte();
                if (b < 0)
                {
                    throw new ModelFileException($"{path}: the file is truncated: it ends at byte {stream.Length} inside a field that starts at byte {at}.");
                }

                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return value;
                }
            }

            throw Malformed(at, "a varint longer than 10 bytes");
        }

        private ModelFileException Truncated(long at, ulong length, long available) =>
            new($"{path}: truncated or not an ONNX model: the field at byte {at} claims {length} bytes but only {available} remain (file size {stream.Length} bytes).");

        private ModelFileException Malformed(long at, string what) =>
            new($"{path}: not an ONNX model (protobuf): {what} at byte {at}.");
    }
}
