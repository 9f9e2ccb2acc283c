using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Models.Deberta;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Backends;

/// <summary>Opens a model for the built-in engine: a bundle or a Hugging Face directory, weights, tokenizer, labels.</summary>
internal static class NativeBackend
{
    /// <summary>Opens a bundle file or a Hugging Face directory and validates it against its own config.</summary>
    public static GuardBackend Open(string path, GuardOptions options)
    {
        var pool = new WorkerPool(options.Threads);
        try
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
        catch
        {
            pool.Dispose();
            throw;
        }
    }

    private static GuardBackend OpenBundle(string path, GuardOptions options, WorkerPool pool)
    {
        var bundle = ModelBundle.Open(path, options.VerifyWeights);
        try
        {
            var config = DebertaConfig.Parse(bundle.ConfigJson, path);
            config.Validate();
            config.ValidateAgainst(bundle);

            // The label array is the bundle's own; it must name the classifier's outputs before anything reads it.
            if (bundle.Labels.Count != config.NumLabels)
            {
                throw new ModelFileException($"{path}: {bundle.Labels.Count} labels are named but the classifier has {config.NumLabels} outputs.");
            }

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

    private static GuardBackend OpenHuggingFace(string path, GuardOptions options, WorkerPool pool)
    {
        var hf = HuggingFaceDirectory.Open(path);
        try
        {
            if (hf.SpmModelPath is null)
            {
                throw new ModelFileException($"{path}: spm.model is missing; a Hugging Face DeBERTa-v3 directory needs its SentencePiece model.");
            }

            var tokenizer = DebertaTokenizer.FromFile(hf.SpmModelPath);

            // Opening the directory checked num_labels against the classifier's weights: the names are as many as its outputs.
            var labels = ModelLabels.Resolve(hf.Config.Labels, options.UnsafeLabel, path);
            return Create(path, "huggingface", "f32", null, hf.Config, hf.Weights, tokenizer, labels, 0.5f, pool);
        }
        catch
        {
            hf.Dispose();
            throw;
        }
    }

    private static GuardBackend Create(
        string path, string format, string precision, string? name, DebertaConfig config, ITensorSource weights,
        DebertaTokenizer tokenizer, ModelLabels labels, float threshold, WorkerPool pool)
    {
        if (tokenizer.VocabularySize > config.VocabSize)
        {
            throw new ModelFileException(
                $"{path}: the tokenizer has {tokenizer.VocabularySize} tokens but the model's embedding table has only {config.VocabSize} rows (vocab_size); they do not belong together.");
        }

        var classifier = DebertaClassifier.Load(config, weights, pool);
        var info = new GuardModelInfo(
            path, format, precision, name, labels.Names, labels.UnsafeIndex, threshold,
            config.NumHiddenLayers, config.HiddenSize, classifier.MaxSequenceLength, config.VocabSize);
        return new GuardBackend(new NativeClassifier(classifier, weights, pool), tokenizer, labels, threshold, info);
    }
}
