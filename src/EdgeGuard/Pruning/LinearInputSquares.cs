using EdgeGuard.Generation.Decoding;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Pruning;

/// <summary>
/// Per input feature j of chosen linear layers, <c>Σ x_j²</c> over every token the model runs, in float64: the square of
/// Wanda's <c>‖X_j‖₂</c>. Collected from forward passes of the model as it is (the unpruned one), row by row, so no padding
/// enters a sum.
/// </summary>
public sealed class LinearInputSquares
{
    private readonly Dictionary<Linear, double[]> _sums = new(ReferenceEqualityComparer.Instance);

    /// <summary>Starts empty sums for <paramref name="layers"/>.</summary>
    public LinearInputSquares(IReadOnlyList<PrunableLinear> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        foreach (PrunableLinear layer in layers)
        {
            _sums[layer.Layer] = new double[layer.InFeatures];
        }
    }

    /// <summary>Tokens seen so far.</summary>
    public long Tokens { get; private set; }

    /// <summary>The sums of <paramref name="layer"/> (one of those given at construction), one per input feature.</summary>
    public ReadOnlySpan<double> Of(PrunableLinear layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return _sums.TryGetValue(layer.Layer, out double[]? sums)
            ? sums
            : throw new ArgumentException($"{layer.Name} is not one of the layers these sums are collected for.", nameof(layer));
    }

    /// <summary>
    /// Runs every row of <paramref name="rows"/> through <paramref name="model"/> on its own (a fresh conversation each) and adds
    /// the inputs of the chosen layers to the sums; <paramref name="rowDone"/> is called after each row.
    /// </summary>
    /// <exception cref="ArgumentException">A row is empty, longer than the model's context, or holds an id outside the vocabulary.</exception>
    public void Add(DecoderModel model, IReadOnlyList<IReadOnlyList<int>> rows, Action? rowDone = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(rows);
        int longest = rows.Count == 0 ? 1 : Math.Max(1, rows.Max(r => r.Count));
        DecoderSession session = model.CreateSession(Math.Min(longest, model.MaxContextLength));
        var observer = new Observer(_sums);
        session.ObserveLinearInputs(observer);
        foreach (IReadOnlyList<int> row in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            session.Reset();
            session.Prefill(row is int[] array ? array : [.. row]);
            Tokens += row.Count;
            rowDone?.Invoke();
        }
    }

    private sealed class Observer(Dictionary<Linear, double[]> sums) : ILinearInputObserver
    {
        public void Observe(Linear layer, ReadOnlySpan<float> input, int rows)
        {
            if (!sums.TryGetValue(layer, out double[]? sum))
            {
                return;
            }

            int width = layer.InFeatures;
            for (int r = 0; r < rows; r++)
            {
                ReadOnlySpan<float> x = input.Slice(r * width, width);
                for (int j = 0; j < x.Length; j++)
                {
                    double v = x[j];
                    sum[j] += v * v;
                }
            }
        }
    }
}
