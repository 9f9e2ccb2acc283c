using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tooling;

/// <summary>
/// A tensor source that has no file: a model loader asks it to create each tensor with the shape the model needs, and
/// it fills it as BERT-family models initialise (LayerNorm and RMSNorm gains 1, biases 0, everything else N(0, 0.02²)).
/// </summary>
internal sealed class SyntheticTensorSource(int seed, CancellationToken cancellationToken) : ITensorFactory
{
    private readonly Random _random = new(seed);
    private readonly List<SafetensorsWriter.Entry> _created = [];

    /// <summary>Every tensor created so far, in the order the loader asked for them.</summary>
    public IReadOnlyList<SafetensorsWriter.Entry> Created => _created;

    public string Origin => "synthesized weights";

    public IReadOnlyCollection<TensorInfo> Tensors => [];

    public TensorInfo? Find(string name) => null;

    public ReadOnlyMemory<float> ReadFloat32(string name) => throw new ModelFileException($"{Origin}: tensor '{name}' was not created.");

    public ReadOnlyMemory<float> Create(string name, long[] shape)
    {
        cancellationToken.ThrowIfCancellationRequested();
        int existing = _created.FindIndex(t => t.Name == name);
        if (existing >= 0)
        {
            return _created[existing].Data;
        }

        long count = 1;
        foreach (long d in shape)
        {
            count *= d;
        }

        var data = new float[count];
        // LayerNorm and RMSNorm gains: BERT's LayerNorm.weight, Llama's input_layernorm, post_attention_layernorm and norm.
        if (name.EndsWith("norm.weight", StringComparison.OrdinalIgnoreCase))
        {
            Array.Fill(data, 1f);
        }
        else if (!name.EndsWith(".bias", StringComparison.Ordinal))
        {
            for (int i = 0; i < data.Length; i++)
            {
                // Box–Muller: a normal sample from two uniforms.
                double u1 = 1.0 - _random.NextDouble(), u2 = _random.NextDouble();
                data[i] = (float)(0.02 * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
            }
        }

        _created.Add(new SafetensorsWriter.Entry(name, shape, data));
        return data;
    }

    public void Dispose()
    {
    }
}
