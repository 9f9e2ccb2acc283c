using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles.Bundle;

namespace EdgeGuard.Models;

/// <summary>
/// A model of any registered architecture into one bundle: config, tokenizer files, classifier metadata (for a classifier),
/// the architecture's own descriptive keys and the weights, float32 or int8 (the architecture quantises and precomputes;
/// <see cref="BundleWriter"/> only writes).
/// </summary>
public static class BundleConversion
{
    /// <summary>Writes <paramref name="model"/> to <paramref name="output"/> atomically (see <see cref="BundleWriter"/>).</summary>
    /// <param name="classifier">Labels, unsafe class and threshold to store; null for a model that is not a classifier (a decoder).</param>
    /// <param name="int8">Store the architecture's linear layers as packed int8 (per-channel, ±<paramref name="weightLimit"/>).</param>
    /// <param name="weightLimit"><see cref="PackedInt8Matrix.FullWeightLimit"/> (8-bit) or <see cref="PackedInt8Matrix.SevenBitWeightLimit"/> (7-bit).</param>
    /// <param name="wordTable">With <paramref name="int8"/>: how the word embedding table is stored.</param>
    /// <param name="weights">The tensors to store in place of the model's own (its weights changed, e.g. pruned); null for its own.</param>
    /// <param name="keepFloat">With <paramref name="int8"/>: patterns of the linear layers stored in float32 instead (<see cref="Int8Plan"/>; a mixed-precision bundle).</param>
    /// <exception cref="ModelFiles.ModelFileException">The model's weights or tokenizer cannot be read or stored.</exception>
    public static void Write(
        ModelSource model, string output, BundleClassifier? classifier, bool int8, int weightLimit = PackedInt8Matrix.FullWeightLimit,
        string? name = null, string? source = null, IProgress<double>? progress = null, WordTableFormat wordTable = WordTableFormat.Q8_0,
        ModelFiles.ITensorSource? weights = null, IReadOnlyList<string>? keepFloat = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (classifier is null && model.Architecture.IsClassifier)
        {
            throw new ArgumentNullException(nameof(classifier), $"A {model.Config.ModelType} model is a classifier; its bundle needs labels, the unsafe class and a threshold.");
        }

        var contents = new BundleContents(
            model.Config.ModelType, model.Config.ToJson(), model.ToBundleTokenizer(), classifier,
            int8 ? BundleFormat.PrecisionInt8 : BundleFormat.PrecisionF32, name, source, model.Architecture.DescribeBundleMetadata(model.Config),
            model.GenerationConfigJson);
        if (!int8)
        {
            if (keepFloat is { Count: > 0 })
            {
                throw new ArgumentException("A float bundle stores every layer in float32 already.", nameof(keepFloat));
            }

            BundleWriter.Write(output, contents, weights ?? model.Weights, progress);
            return;
        }

        if (weights is not null)
        {
            throw new ArgumentException("Other weights than the model's own are stored in float bundles only.", nameof(weights));
        }

        using var pool = new WorkerPool();
        Int8Conversion conversion = model.Architecture.IsClassifier
            ? model.LoadClassifier(pool, ModelPrecision.Int8, weightLimit, keepFloat).ToInt8Conversion()
            : model.LoadDecoder(pool, ModelPrecision.Int8, weightLimit, keepFloat).ToInt8Conversion();
        if (wordTable == WordTableFormat.Q8_0)
        {
            conversion = conversion.WithQ8Tables(model.Weights);
        }

        BundleWriter.WriteInt8(output, contents, model.Weights, conversion, progress);
    }
}
