using System.Numerics.Tensors;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Models.Layers;

/// <summary>
/// <c>torch.nn.Embedding</c>: a <c>[rows, width]</c> table looked up by id, in float32 or float16.
/// </summary>
/// <remarks>
/// The int8 engines keep the word table in float16: it is the largest tensor of most encoders (30,522 rows for BERT,
/// 128,100 for DeBERTa-v3) and is only looked up, so halving it halves most of the file at the cost of rounding each
/// value to 11 bits. Ids are checked by the caller.
/// </remarks>
internal sealed class EmbeddingTable
{
    private readonly ReadOnlyMemory<float> _table;
    private readonly ReadOnlyMemory<Half> _halfTable;

    private EmbeddingTable(string tensorName, ReadOnlyMemory<float> table, ReadOnlyMemory<Half> halfTable, int rows, int width)
    {
        TensorName = tensorName;
        _table = table;
        _halfTable = halfTable;
        Rows = rows;
        Width = width;
    }

    /// <summary>Name of the table's tensor (<c>P.weight</c>).</summary>
    public string TensorName { get; }

    public int Rows { get; }

    public int Width { get; }

    /// <summary>The table in float16, when this one holds it so (else empty).</summary>
    public ReadOnlyMemory<Half> HalfTable => _halfTable;

    /// <summary>Loads <c>P.weight</c>, <c>[rows, width]</c>; from a file that stores it as float16, as float16.</summary>
    public static EmbeddingTable Load(WeightLoader weights, int rows, int width)
    {
        string name = weights.Prefix + ".weight";
        if (weights.Source is IInt8WeightSource stored && stored.FindHalfTable(name, rows, width) is { } half)
        {
            return new EmbeddingTable(name, default, half, rows, width);
        }

        return new EmbeddingTable(name, weights.Matrix("weight", rows, width), default, rows, width);
    }

    /// <summary>This table in float16, unless a value is beyond float16's range (then unchanged).</summary>
    public EmbeddingTable WithHalfPrecision()
    {
        if (!_halfTable.IsEmpty)
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

        return new EmbeddingTable(TensorName, default, half, Rows, Width);
    }

    /// <summary>Writes row <paramref name="id"/> to <paramref name="destination"/>.</summary>
    public void CopyRow(int id, Span<float> destination)
    {
        if (_halfTable.IsEmpty)
        {
            _table.Span.Slice(id * Width, Width).CopyTo(destination);
        }
        else
        {
            TensorPrimitives.ConvertToSingle(_halfTable.Span.Slice(id * Width, Width), destination);
        }
    }

    /// <summary>Adds row <paramref name="id"/> to <paramref name="destination"/>.</summary>
    public void AddRow(int id, Span<float> destination)
    {
        if (_halfTable.IsEmpty)
        {
            TensorPrimitives.Add(destination, _table.Span.Slice(id * Width, Width), destination);
            return;
        }

        Span<float> row = stackalloc float[Math.Min(Width, 1024)];
        ReadOnlySpan<Half> half = _halfTable.Span.Slice(id * Width, Width);
        for (int start = 0; start < Width; start += row.Length)
        {
            int n = Math.Min(row.Length, Width - start);
            TensorPrimitives.ConvertToSingle(half.Slice(start, n), row[..n]);
            TensorPrimitives.Add(destination.Slice(start, n), row[..n], destination.Slice(start, n));
        }
    }
}
