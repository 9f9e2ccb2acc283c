using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Tokenization;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models.Deberta;

/// <summary>
/// Hugging Face directories of real DeBERTa-v3 shapes with seeded random weights: speed and memory do not depend on
/// weight values, so these stand in for checkpoints that cannot be shipped or downloaded. Their verdicts mean nothing.
/// </summary>
public static class SyntheticModel
{
    /// <summary>Labels of a synthesized classifier.</summary>
    public static IReadOnlyList<string> Labels { get; } = ["safe", "unsafe"];

    /// <summary>Writes <c>config.json</c>, <c>model.safetensors</c> and a copy of <paramref name="spmModelPath"/> into <paramref name="outputDir"/>.</summary>
    /// <param name="vocabSize">Rows of the embedding table; null for the tokenizer's vocabulary size.</param>
    /// <returns>The number of parameters written.</returns>
    public static long Write(DebertaShape shape, string spmModelPath, string outputDir, int? vocabSize, int seed, CancellationToken cancellationToken = default)
    {
        var tokenizer = DebertaTokenizer.FromFile(spmModelPath);
        int vocab = vocabSize ?? tokenizer.VocabularySize;
        if (vocab < tokenizer.VocabularySize)
        {
            throw new ArgumentException($"Vocabulary size {vocab} is smaller than the tokenizer's {tokenizer.VocabularySize} tokens.", nameof(vocabSize));
        }

        Directory.CreateDirectory(outputDir);
        string configJson = shape.ToConfigJson(vocab, Labels);
        var config = DebertaConfig.Parse(configJson, "synthesized config");
        // The loader asks for every tensor by its Hugging Face name and shape; answering with random values
        // makes exactly the tensors a real checkpoint of this config holds, named in one place only.
        using var tensors = new SyntheticTensorSource(seed, cancellationToken);
        using (var pool = new WorkerPool(1))
        {
            DebertaClassifier.Load(config, tensors, pool);
        }

        SafetensorsWriter.Write(Path.Combine(outputDir, "model.safetensors"), tensors.Created);
        File.WriteAllText(Path.Combine(outputDir, "config.json"), configJson);
        File.Copy(spmModelPath, Path.Combine(outputDir, "spm.model"), overwrite: true);
        return tensors.Created.Sum(t => (long)t.Data.Length);
    }
}

/// <summary>
/// A tensor source that has no file: <see cref="WeightLoader"/> asks it to create each tensor with the shape the model
/// needs, and it fills it as DeBERTa initialises (LayerNorm gains 1, biases 0, everything else N(0, 0.02²)).
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
        if (name.EndsWith("LayerNorm.weight", StringComparison.Ordinal))
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
