using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;

namespace EdgeGuard.Backends;

/// <summary>Opens a model for the built-in engine: a bundle or a Hugging Face directory of any registered architecture.</summary>
internal static class NativeBackend
{
    /// <summary>Opens a bundle file or a Hugging Face directory and validates it against its own config.</summary>
    public static GuardBackend Open(string path, GuardOptions options)
    {
        var pool = new WorkerPool(options.Threads);
        ModelSource? source = null;
        try
        {
            source = ModelSource.Open(path, options.VerifyWeights);
            if (!source.Architecture.IsClassifier)
            {
                throw new ModelFileException(
                    $"{path}: model_type={ErrorText.Quote(source.Config.ModelType)} is a decoder language model, not a sequence classifier; a guard needs a classifier.");
            }

            IReadOnlyList<string> names = source.Labels
                ?? throw new ModelFileException($"{path}: the bundle holds a {source.Config.ModelType} model without classifier labels; a guard needs a classifier.");
            var labels = ModelLabels.Resolve(names, options.UnsafeLabel ?? source.UnsafeLabel, path);
            if (labels.Names.Count != source.Config.NumLabels)
            {
                throw new ModelFileException($"{path}: {labels.Names.Count} labels are named but the classifier has {source.Config.NumLabels} outputs.");
            }

            var tokenizer = source.LoadTokenizer();
            EncoderClassifier classifier = source.LoadClassifier(pool);
            var info = new GuardModelInfo(
                path, source.Format, source.Precision, source.Name, labels.Names, labels.UnsafeIndex, source.Threshold,
                source.Config.NumHiddenLayers, source.Config.HiddenSize, classifier.MaxSequenceLength, source.Config.VocabSize)
            {
                Architecture = source.Config.ModelType,
            };
            return new GuardBackend(new NativeClassifier(classifier, source, pool), tokenizer, labels, source.Threshold, info);
        }
        catch
        {
            source?.Dispose();
            pool.Dispose();
            throw;
        }
    }
}
