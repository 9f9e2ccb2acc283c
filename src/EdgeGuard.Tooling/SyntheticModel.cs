using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Tooling;

/// <summary>
/// Hugging Face directories of real checkpoint shapes with seeded random weights: speed and memory do not depend on
/// weight values, so these stand in for checkpoints that cannot be shipped or downloaded. Their verdicts mean nothing.
/// </summary>
public static class SyntheticModel
{
    /// <summary>Labels of a synthesized classifier.</summary>
    public static IReadOnlyList<string> Labels { get; } = ["safe", "unsafe"];

    /// <summary>
    /// Writes <c>config.json</c>, <c>model.safetensors</c> and the tokenizer's files into <paramref name="outputDir"/>.
    /// </summary>
    /// <param name="tokenizer">A tokenizer file (e.g. <c>spm.model</c>) or a directory holding the files of the shape's tokenizer kind.</param>
    /// <param name="vocabSize">Rows of the embedding table; null for the tokenizer's vocabulary size.</param>
    /// <returns>The number of parameters written.</returns>
    public static long Write(ModelShape shape, string tokenizer, string outputDir, int? vocabSize, int seed, CancellationToken cancellationToken = default)
    {
        ModelArchitecture architecture = ModelArchitectures.Get(shape.Architecture, shape.Name);
        TokenizerFiles files = Directory.Exists(tokenizer)
            ? TokenizerFiles.FromDirectory(tokenizer, architecture.TokenizerKind)
            : new TokenizerFiles(architecture.TokenizerKind, new Dictionary<string, ReadOnlyMemory<byte>> { [Path.GetFileName(tokenizer)] = File.ReadAllBytes(tokenizer) }, tokenizer);
        int tokens = Tokenizers.Load(files).VocabularySize;
        int vocab = vocabSize ?? tokens;
        if (vocab < tokens)
        {
            throw new ArgumentException($"Vocabulary size {vocab} is smaller than the tokenizer's {tokens} tokens.", nameof(vocabSize));
        }

        Directory.CreateDirectory(outputDir);
        string configJson = shape.ToConfigJson(vocab, Labels);
        IModelConfig config = architecture.ParseConfig(configJson, "synthesized config");

        // The loader asks for every tensor by its Hugging Face name and shape; answering with random values
        // makes exactly the tensors a real checkpoint of this config holds, named in one place only.
        using var tensors = new SyntheticTensorSource(seed, cancellationToken);
        using (var pool = new WorkerPool(1))
        {
            if (shape.IsDecoder)
            {
                architecture.LoadDecoder(config, tensors, pool, ModelPrecision.Float32, new Int8Plan(Kernels.Int8.PackedInt8Matrix.FullWeightLimit));
            }
            else
            {
                architecture.LoadClassifier(config, tensors, pool, ModelPrecision.Float32, new Int8Plan(Kernels.Int8.PackedInt8Matrix.FullWeightLimit));
            }
        }

        SafetensorsWriter.Write(Path.Combine(outputDir, HuggingFaceDirectory.WeightsFileName), tensors.Created);
        File.WriteAllText(Path.Combine(outputDir, HuggingFaceDirectory.ConfigFileName), configJson);
        foreach ((string name, ReadOnlyMemory<byte> bytes) in files.Files)
        {
            File.WriteAllBytes(Path.Combine(outputDir, name), bytes.ToArray());
        }

        return tensors.Created.Sum(t => (long)t.Data.Length);
    }
}
