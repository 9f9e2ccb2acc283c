using System.Runtime.InteropServices;
using EdgeGuard.ModelFiles.Gguf;

namespace EdgeGuard.Tests.Bundle;

public sealed class GgufRoundTripTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void WriteTo_SmallFile_MatchesTheSpecificationByteLayout()
    {
        float[] data = [0, 1, 2, 3, 4, 5];
        var writer = new GgufWriter(alignment: 32);
        writer.AddMetadata("a.b", GgufValue.FromUInt32(7));
        writer.AddTensor("t", GgmlType.F32, [2, 3], s => s.Write(MemoryMarshal.AsBytes(data.AsSpan())));
        var stream = new MemoryStream();
        writer.WriteTo(stream);

        byte[] expected = new RawGgufBuilder()
            .Header(tensorCount: 1, metadataCount: 2)
            .KvU32("general.alignment", 32)
            .KvU32("a.b", 7)
            .TensorInfo("t", ggmlType: 0, offset: 0, 3, 2) // innermost (row length 3) first
            .PadTo(32)
            .Bytes(MemoryMarshal.AsBytes(data.AsSpan()))
            .PadTo(32)
            .ToArray();
        Assert.Equal(expected, stream.ToArray());
    }

    [Fact]
    public void Open_EveryValueType_ReadsBackWhatWasWritten()
    {
        string path = _dir.File("values.gguf");
        byte[] u8s = [0, 1, 255];
        int[] i32s = [int.MinValue, -1, 0, int.MaxValue];
        double[] f64s = [double.NegativeInfinity, -0.0, Math.PI];
        float nanWithPayload = BitConverter.UInt32BitsToSingle(0x7FC0_1234);
        var writer = new GgufWriter(alignment: 64);
        writer.AddMetadata("v.u8", GgufValue.FromUInt8(250));
        writer.AddMetadata("v.i8", GgufValue.FromInt8(-128));
        writer.AddMetadata("v.u16", GgufValue.FromUInt16(65535));
        writer.AddMetadata("v.i16", GgufValue.FromInt16(-32768));
        writer.AddMetadata("v.u32", GgufValue.FromUInt32(uint.MaxValue));
        writer.AddMetadata("v.i32", GgufValue.FromInt32(int.MinValue));
        writer.AddMetadata("v.f32", GgufValue.FromFloat32(nanWithPayload));
        writer.AddMetadata("v.bool_true", GgufValue.FromBool(true));
        writer.AddMetadata("v.bool_false", GgufValue.FromBool(false));
        writer.AddMetadata("v.string", GgufValue.FromString("héllo ✓ \u0000 end"));
        writer.AddMetadata("v.empty_string", GgufValue.FromString(""));
        writer.AddMetadata("v.u64", GgufValue.FromUInt64(ulong.MaxValue));
        writer.AddMetadata("v.i64", GgufValue.FromInt64(long.MinValue));
        writer.AddMetadata("v.f64", GgufValue.FromFloat64(-0.0));
        writer.AddMetadata("a.u8", GgufValue.FromArray(GgufArray.FromBytes(u8s)));
        writer.AddMetadata("a.i32", GgufValue.FromArray(GgufArray.FromRaw(GgufValueType.Int32, MemoryMarshal.AsBytes(i32s.AsSpan()).ToArray())));
        writer.AddMetadata("a.f64", GgufValue.FromArray(GgufArray.FromRaw(GgufValueType.Float64, MemoryMarshal.AsBytes(f64s.AsSpan()).ToArray())));
        writer.AddMetadata("a.bool", GgufValue.FromArray(GgufArray.FromRaw(GgufValueType.Bool, new byte[] { 1, 0, 1 })));
        writer.AddMetadata("a.strings", GgufValue.FromArray(GgufArray.FromStrings(["safe", "", "unsafe ✓"])));
        writer.AddMetadata("a.empty", GgufValue.FromArray(GgufArray.FromBytes(Array.Empty<byte>())));
        writer.AddMetadata("a.nested", GgufValue.FromArray(GgufArray.FromArrays(
            [GgufArray.FromStrings(["x"]), GgufArray.FromArrays([GgufArray.FromBytes(new byte[] { 9 })])])));
        WriteFile(path, writer);

        using GgufReader reader = GgufReader.Open(path);
        GgufValue Value(string key) => reader.FindMetadata(key)!.Value;
        Assert.Equal(64u, reader.Alignment);
        Assert.Equal(250, Value("v.u8").AsUInt8());
        Assert.Equal(-128, Value("v.i8").AsInt8());
        Assert.Equal(65535, Value("v.u16").AsUInt16());
        Assert.Equal(-32768, Value("v.i16").AsInt16());
        Assert.Equal(uint.MaxValue, Value("v.u32").AsUInt32());
        Assert.Equal(int.MinValue, Value("v.i32").AsInt32());
        Assert.Equal(0x7FC0_1234u, BitConverter.SingleToUInt32Bits(Value("v.f32").AsFloat32()));
        Assert.True(Value("v.bool_true").AsBool());
        Assert.False(Value("v.bool_false").AsBool());
        Assert.Equal("héllo ✓ \u0000 end", Value("v.string").AsString());
        Assert.Equal("", Value("v.empty_string").AsString());
        Assert.Equal(ulong.MaxValue, Value("v.u64").AsUInt64());
        Assert.Equal(long.MinValue, Value("v.i64").AsInt64());
        Assert.Equal(BitConverter.DoubleToUInt64Bits(-0.0), BitConverter.DoubleToUInt64Bits(Value("v.f64").AsFloat64()));
        Assert.Equal(u8s, Value("a.u8").AsArray().RawBytes.ToArray());
        Assert.Equal(i32s, MemoryMarshal.Cast<byte, int>(Value("a.i32").AsArray().RawBytes.Span).ToArray());
        Assert.Equal(f64s, MemoryMarshal.Cast<byte, double>(Value("a.f64").AsArray().RawBytes.Span).ToArray());
        Assert.Equal(GgufValueType.Bool, Value("a.bool").AsArray().ElementType);
        Assert.True(Value("a.bool").AsArray().GetElement(2).AsBool());
        Assert.Equal(["safe", "", "unsafe ✓"], Value("a.strings").AsArray().Strings);
        Assert.Equal(0, Value("a.empty").AsArray().Count);
        GgufArray nested = Value("a.nested").AsArray();
        Assert.Equal(3, nested.Depth);
        Assert.Equal(["x"], nested.Arrays[0].Strings);
        Assert.Equal(9, nested.Arrays[1].Arrays[0].RawBytes.Span[0]);
        Assert.Equal("[\"safe\", \"\", \"unsafe ✓\"]", Value("a.strings").ToString());
        Assert.Equal(22, reader.Metadata.Count);
        Assert.Equal("general.alignment", reader.Metadata[0].Key);
    }

    [Fact]
    public void Open_TensorsOfEveryStoredType_ReturnsShapesOutermostFirstAndBytesUnchanged()
    {
        string path = _dir.File("tensors.gguf");
        var random = new Random(7);
        (string Name, GgmlType Type, long[] Shape)[] specs =
        [
            ("scalar", GgmlType.F32, []),
            ("vector", GgmlType.F16, [5]),
            ("matrix", GgmlType.BF16, [3, 7]),
            ("cube", GgmlType.I8, [2, 3, 5]),
            ("hyper", GgmlType.I32, [1, 2, 1, 3]),
            ("wide", GgmlType.F64, [1, 9]),
        ];
        var payloads = new Dictionary<string, byte[]>();
        var writer = new GgufWriter(alignment: 64);
        foreach ((string name, GgmlType type, long[] shape) in specs)
        {
            long elements = shape.Aggregate(1L, (a, b) => a * b);
            byte[] bytes = new byte[elements * GgmlTypes.ElementSize(type)];
            random.NextBytes(bytes);
            payloads[name] = bytes;
            writer.AddTensor(name, type, shape, s => s.Write(bytes));
        }

        WriteFile(path, writer);

        using GgufReader reader = GgufReader.Open(path);
        Assert.Equal(specs.Select(s => s.Name), reader.Tensors.Select(t => t.Name));
        foreach ((string name, GgmlType type, long[] shape) in specs)
        {
            GgufTensorInfo info = reader.FindTensor(name)!;
            Assert.Equal(type, info.Type);
            Assert.Equal(shape, info.Shape);
            Assert.Equal(0, info.Offset % 64);
            Assert.Equal(payloads[name], reader.GetTensorBytes(info).ToArray());
        }

        Assert.Equal(MemoryMarshal.Cast<byte, float>(payloads["scalar"]).ToArray(), reader.GetTensorMemory<float>(reader.FindTensor("scalar")!).ToArray());
    }

    [Fact]
    public void AddTensor_Q8_0_WritesWholeBlocksAndRefusesPartialRows()
    {
        string path = _dir.File("q8.gguf");
        byte[] blocks = new byte[3 * 2 * 34];
        new Random(9).NextBytes(blocks);
        var writer = new GgufWriter(alignment: 64);
        Assert.Throws<ArgumentException>(() => writer.AddTensor("partial", GgmlType.Q8_0, [2, 48], s => s.Write(new byte[102])));
        writer.AddTensor("table", GgmlType.Q8_0, [3, 64], s => s.Write(blocks));
        WriteFile(path, writer);

        using GgufReader reader = GgufReader.Open(path);
        GgufTensorInfo info = reader.FindTensor("table")!;
        Assert.Equal(GgmlType.Q8_0, info.Type);
        Assert.Equal([3L, 64L], info.Shape);
        Assert.Equal(blocks, reader.GetTensorBytes(info).ToArray());
    }

    [Fact]
    public void Open_FileWithoutTensors_HasAnEmptyDataSection()
    {
        string path = _dir.File("empty.gguf");
        var writer = new GgufWriter();
        writer.AddMetadata("general.name", GgufValue.FromString("nothing"));
        WriteFile(path, writer);

        using GgufReader reader = GgufReader.Open(path);
        Assert.Empty(reader.Tensors);
        Assert.Equal(reader.FileSize, reader.DataStart);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Upper.case")]
    [InlineData("double..dot")]
    [InlineData(".leading")]
    [InlineData("trailing.")]
    [InlineData("space key")]
    [InlineData("general.alignment")]
    public void AddMetadata_InvalidKey_IsRefused(string key)
    {
        var writer = new GgufWriter();
        Assert.Throws<ArgumentException>(() => writer.AddMetadata(key, GgufValue.FromUInt8(1)));
    }

    [Fact]
    public void AddMetadata_SameKeyTwice_IsRefused()
    {
        var writer = new GgufWriter();
        writer.AddMetadata("a.b", GgufValue.FromUInt8(1));
        Assert.Throws<ArgumentException>(() => writer.AddMetadata("a.b", GgufValue.FromUInt8(2)));
    }

    [Theory]
    [InlineData("", new long[] { 1 })]
    [InlineData("this.tensor.name.is.sixty.four.bytes.long.which.ggml.cannot.hold", new long[] { 1 })]
    [InlineData("zero", new long[] { 2, 0 })]
    [InlineData("negative", new long[] { -1 })]
    [InlineData("five.dims", new long[] { 1, 1, 1, 1, 1 })]
    public void AddTensor_UnstorableNameOrShape_IsRefused(string name, long[] shape)
    {
        var writer = new GgufWriter();
        Assert.Throws<ArgumentException>(() => writer.AddTensor(name, GgmlType.F32, shape, _ => { }));
    }

    [Fact]
    public void AddTensor_BlockQuantizedType_IsRefused()
    {
        var writer = new GgufWriter();
        Assert.Throws<ArgumentException>(() => writer.AddTensor("q", (GgmlType)2, [32], _ => { }));
    }

    [Fact]
    public void WriteTo_CallbackWritesTheWrongByteCount_Throws()
    {
        var writer = new GgufWriter();
        writer.AddTensor("t", GgmlType.F32, [4], s => s.Write(new byte[15]));
        Assert.Throws<InvalidOperationException>(() => writer.WriteTo(new MemoryStream()));
    }

    [Fact]
    public void FromArrays_NestingDeeperThanTheLimit_IsRefused()
    {
        GgufArray array = GgufArray.FromBytes(new byte[] { 1 });
        for (int depth = 1; depth < GgufFormat.MaxArrayNesting; depth++)
        {
            array = GgufArray.FromArrays([array]);
        }

        Assert.Equal(GgufFormat.MaxArrayNesting, array.Depth);
        Assert.Throws<ArgumentException>(() => GgufArray.FromArrays([array]));
    }

    private static void WriteFile(string path, GgufWriter writer)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        writer.WriteTo(stream);
    }
}
