using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Models.Deberta;
using EdgeGuard.Tokenization;

namespace EdgeGuard;

/// <summary>Describes an opened guard model.</summary>
/// <param name="Path">What was opened.</param>
/// <param name="Format"><c>bundle</c> or <c>huggingface</c>.</param>
/// <param name="Precision">Weight precision of the engine, e.g. <c>f32</c>.</param>
/// <param name="Name">The model's name, if the file gives one.</param>
/// <param name="Labels">Class names, index = class id.</param>
/// <param name="UnsafeLabel">Index of the class that means unsafe.</param>
/// <param name="Threshold">The model's own decision threshold.</param>
/// <param name="Layers">Encoder layers.</param>
/// <param name="HiddenSize">Hidden size.</param>
/// <param name="MaxSequenceLength">Most tokens one window may hold.</param>
/// <param name="VocabularySize">Rows of the embedding table.</param>
public sealed record GuardModelInfo(
    string Path, string Format, string Precision, string? Name, IReadOnlyList<string> Labels, int UnsafeLabel, float Threshold,
    int Layers, int HiddenSize, int MaxSequenceLength, int VocabularySize);

/// <summary>Everything one opened model holds: weights, engine, tokenizer, labels.</summary>
internal sealed class GuardModel : IDisposable
{
    private readonly ITensorSource _weights;

    private GuardModel(ITensorSource weights, DebertaClassifier classifier, DebertaTokenizer tokenizer, ModelLabels labels, float threshold, GuardModelInfo info)
    {
        _weights = weights;
        Classifier = classifier;
        Tokenizer = tokenizer;
        Labels = labels;
        Threshold = threshold;
        Info = info;
    }

    public DebertaClassifier Classifier { get; }

    public DebertaTokenizer Tokenizer { get; }

    public ModelLabels Labels { get; }

    public float Threshold { get; }

    public GuardModelInfo Info { get; }

    /// <summary>Opens a bundle file or a Hugging Face directory and validates it against its own config.</summary>
    public static GuardModel Open(string path, GuardOptions options, WorkerPool pool)
    {
        if (Directory.Exists(path))
        {
            return OpenHuggingFace(path, options, pool);
        }

        if (!File.Exists(path))
        {
            throw new ModelFileException($"{path}: no such model file or directory.");
        }

        return OpenBundle(path, options, pool);
    }

    private static GuardModel OpenBundle(string path, GuardOptions options, WorkerPool pool)
    {
        var bundle = ModelBundle.Open(path, options.VerifyWeights);
        try
        {
            var config = DebertaConfig.Parse(bundle.ConfigJson, path);
            var tokenizer = DebertaTokenizer.FromSentencePieceModel(bundle.TokenizerModel.Span);
            var labels = ModelLabels.Resolve(bundle.Labels, options.UnsafeLabel ?? bundle.UnsafeLabel, path);
            return Create(path, "bundle", bundle.Precision, bundle.Name, config, bundle, tokenizer, labels, bundle.Threshold, pool);
        }
        catch
        {
            bundle.Dispose();
            throw;
        }
    }

    private static GuardModel OpenHuggingFace(string path, GuardOptions options, WorkerPool pool)
    {
        var hf = HuggingFaceDirectory.Open(path);
        try
        {
            if (hf.SpmModelPath is null)
            {
                throw new ModelFileException($"{path}: spm.model is missing; a Hugging Face DeBERTa-v3 directory needs its SentencePiece model.");
            }

            var tokenizer = DebertaTokenizer.FromFile(hf.SpmModelPath);
            var labels = ModelLabels.Resolve(hf.Config.Labels, options.UnsafeLabel, path);
            return Create(path, "huggingface", "f32", null, hf.Config, hf.Weights, tokenizer, labels, 0.5f, pool);
        }
        catch
        {
            hf.Dispose();
            throw;
        }
    }

    private static GuardModel Create(
        string path, string format, string precision, string? name, DebertaConfig config, ITensorSource weights,
        DebertaTokenizer tokenizer, ModelLabels labels, float threshold, WorkerPool pool)
    {
        if (tokenizer.VocabularySize > config.VocabSize)
        {
            throw new ModelFileException(
                $"{path}: the tokenizer has {tokenizer.VocabularySize} tokens but the model's embedding table has only {config.VocabSize} rows (vocab_size); they do not belong together.");
        }

        if (labels.Names.Count != config.NumLabels)
        {
            throw new ModelFileException($"{path}: {labels.Names.Count} labels are named but the classifier has {config.NumLabels} outputs.");
        }

        var classifier = DebertaClassifier.Load(config, weights, pool);
        var info = new GuardModelInfo(
            path, format, precision, name, labels.Names, labels.UnsafeIndex, threshold,
            config.NumHiddenLayers, config.HiddenSize, classifier.MaxSequenceLength, config.VocabSize);
        return new GuardModel(weights, classifier, tokenizer, labels, threshold, info);
    }

    public void Dispose() => _weights.Dispose();
}
