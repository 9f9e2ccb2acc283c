using EdgeGuard.ModelFiles;

namespace EdgeGuard.Pruning;

/// <summary>
/// A model's tensors with some weights replaced by pruned copies (the zeros where a mask says, in the layout the file
/// stores); every other tensor is the original's, read where it lies.
/// </summary>
public sealed class PrunedWeights : ITensorSource
{
    private readonly ITensorSource _original;
    private readonly Dictionary<string, float[]> _pruned = new(StringComparer.Ordinal);

    /// <summary>Starts as <paramref name="original"/>, which must stay open while this is used (and is not disposed by it).</summary>
    public PrunedWeights(ITensorSource original)
    {
        ArgumentNullException.ThrowIfNull(original);
        _original = original;
    }

    /// <inheritdoc />
    public string Origin => _original.Origin;

    /// <inheritdoc />
    public IReadOnlyCollection<TensorInfo> Tensors => _original.Tensors;

    /// <summary>Names of the tensors that hold pruned copies.</summary>
    public IReadOnlyCollection<string> PrunedTensors => _pruned.Keys;

    /// <summary>Zeroes the weights of <paramref name="layer"/> where <paramref name="mask"/> (<c>[out, in]</c>, row-major) is true.</summary>
    /// <exception cref="ArgumentException">The mask has another size than the layer, or the layer was pruned already.</exception>
    public void Prune(PrunableLinear layer, ReadOnlySpan<bool> mask)
    {
        ArgumentNullException.ThrowIfNull(layer);
        int outputs = layer.OutFeatures, inputs = layer.InFeatures;
        if (mask.Length != outputs * inputs)
        {
            throw new ArgumentException($"A mask of {mask.Length} values does not fit {layer.Name} [{outputs}, {inputs}].", nameof(mask));
        }

        if (_pruned.ContainsKey(layer.TensorName))
        {
            throw new ArgumentException($"{layer.Name} is pruned already.", nameof(layer));
        }

        float[] stored = _original.ReadFloat32(layer.TensorName).ToArray();
        for (int o = 0; o < outputs; o++)
        {
            for (int i = 0; i < inputs; i++)
            {
                if (mask[(o * inputs) + i])
                {
                    stored[layer.StoredInputMajor ? (i * outputs) + o : (o * inputs) + i] = 0f;
                }
            }
        }

        _pruned.Add(layer.TensorName, stored);
    }

    /// <inheritdoc />
    public TensorInfo? Find(string name) => _original.Find(name);

    /// <inheritdoc />
    public ReadOnlyMemory<float> ReadFloat32(string name) => _pruned.TryGetValue(name, out float[]? pruned) ? pruned : _original.ReadFloat32(name);

    /// <summary>Nothing to release: the original stays its owner's.</summary>
    public void Dispose()
    {
    }
}
