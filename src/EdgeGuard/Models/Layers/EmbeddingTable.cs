using System.Numerics.Tensors;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Models.Layers;

/// <summary>
/// <c>torch.nn.Embedding</c>: a <c>[rows, width]</c> table looked up by id, in float32, float16 or Q8_0 blocks.
/// </summary>
/// <remarks>
/// The int8 engines keep the word table in float16: it is the largest tensor of most encoders (30,522 rows for BERT,
/// 128,100 for DeBERTa-v3) and is only looked up, so halving it halves most of the file at the cost of rounding each
/// value to 11 bits. An int8 bundle may store it as Q8_0 blocks instead (34 bytes per 32 values, about half of float16
/// again), read zero-copy from the map like the float16 table and dequantised one row per lookup. Ids are checked by
/// the caller.
/// </remarks>
internal sealed class EmbeddingTable
{
    private readonly ReadOnlyMemory<float> _table;
    private readonly ReadOnlyMemory<Half> _halfTable;
    private readonly ReadOnlyMemory<byte> _q8Table;

    private EmbeddingTable(string tensorName, ReadOnlyMemory<float> table, ReadOnlyMemory<Half> halfTable, ReadOnlyMemory<byte> q8Table, int rows, int width)
    {
        TensorName = tensorName;
        _table = table;
        _halfTable = halfTable;
        _q8Table = q8Table;
        Rows = rows;
        Width = width;
    }

    /// <summary>Name of the table's tensor (<c>P.weight</c>).</summary>
    public string TensorName { get; }

    public int Rows { get; }

    public int Width { get; }

    /// <summary>The table in float16, when this one holds it so (else empty).</summary>
    public ReadOnlyMemory<Half> HalfTable => _halfTable;

    /// <summary>Loads <c>P.weight</c>, <c>[rows, width]</c>; from a file that stores it as float16 or Q8_0, as stored.</summary>
    public static EmbeddingTable Load(WeightLoader weights, int rows, int width)
    {
        string name = weights.Prefix + ".weight";
        if (weights.Source is IInt8WeightSource stored)
        {
            if (stored.FindQ8Table(name, rows, width) is { } blocks)
            {
                return new EmbeddingTable(name, default, default, blocks, rows, width);
            }

            if (stored.FindHalfTable(name, rows, width) is { } half)
            {
                return new EmbeddingTable(name, default, half, default, rows, width);
            }
        }

        return new EmbeddingTable(name, weights.Matrix("weight", rows, width), default, default, rows, width);
    }

    /// <summary>This table in float16, unless a value is beyond float16's range or it is not float32 (then unchanged).</summary>
    public EmbeddingTable WithHalfPrecision()
    {
        if (_table.IsEmpty)
        {
            return this;
        }

        ReadOnlySpan<float> table = _table.Span;
        var half = new Half[table.Length];
        TensorPrimitives.ConvertToHalf(table, half);
        foreach (Half value in half)
        {
            if (Half.IsInfinity(value))
            {
                return this;
            }
        }

        return new EmbeddingTable(TensorName, default, half, default, Rows, Width);
    }

    /// <summary>Writes row <paramref name="id"/> to <paramref name="destination"/>.</summary>
    public void CopyRow(int id, Span<float> destination)
    {
        if (!_table.IsEmpty)
        {
            _table.Span.Slice(id * Width, Width).CopyTo(destination);
        }
        else if (!_halfTable.IsEmpty)
        {
            TensorPrimitives.ConvertToSingle(_halfTable.Span.Slice(id * Width, Width), destination);
        }
        else
        {
            Q8Blocks.Dequantize(Q8Row(id), destination[..Width]);
        }
    }

    /// <summary>Adds row <paramref name="id"/> to <paramref name="destination"/>.</summary>
    public void AddRow(int id, Span<float> destination)
    {
        if (!_table.IsEmpty)
        {
            TensorPrimitives.Add(destination, _table.Span.Slice(id * Width, Width), destination);
            return;
        }

        // A multiple of the Q8_0 block length, so a chunk of a Q8_0 row is whole blocks.
        Span<float> row = stackalloc float[Math.Min(Width, 1024)];
        for (int start = 0; start < Width; start += row.Length)
        {
            int n = Math.Min(row.Length, Width - start);
            if (!_halfTable.IsEmpty)
            {
                TensorPrimitives.ConvertToSingle(_halfTable.Span.Slice((id * Width) + start, n), row[..n]);
            }
            else
            {
                Q8Blocks.Dequantize(Q8Row(id).Slice(start / Q8Blocks.BlockLength * Q8Blocks.BlockBytes, n / Q8Blocks.BlockLength * Q8Blocks.BlockBytes), row[..n]);
            }

            TensorPrimitives.Add(destination.Slice(start, n), row[..n], destination.Slice(start, n));
        }
    }

    private ReadOnlySpan<byte> Q8Row(int id)
    {
        int rowBytes = Width / Q8Blocks.BlockLength * Q8Blocks.BlockBytes;
        return _q8Table.Span.Slice(id * rowBytes, rowBytes);
    }
}
