using System.Globalization;
using EdgeGuard.Backends;
using EdgeGuard.ModelFiles;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Onnx;

/// <summary>
/// Opens an ONNX sequence classifier as a <see cref="Guard"/>: the same API, windows, batching, thresholds and labels as
/// the built-in engine, with ONNX Runtime doing the inference. For any exported classifier with int64 inputs
/// <c>input_ids</c>, <c>attention_mask</c> (and optionally <c>token_type_ids</c>) and a float32 output <c>logits</c>
/// <c>[batch, labels]</c>: DeBERTa-v3 with <c>spm.model</c>, BERT/DistilBERT with <c>vocab.txt</c>.
/// </summary>
/// <example>
/// <code>
/// using var guard = OnnxGuard.Open("exported/model.onnx", new GuardOptions { Threads = 4 });
/// Verdict v = guard.Classify("How do I pick a lock?");
/// </code>
/// </example>
public static class OnnxGuard
{
    /// <summary>The decision threshold of a Hugging Face export, which records none (as for the built-in engine's directories).</summary>
    private const float DefaultThreshold = 0.5f;

    /// <summary>
    /// When set, the guard's ONNX Runtime session profiles every node and writes the JSON to a file whose name starts with
    /// the variable's value when the guard is disposed (<see cref="OnnxClassifierOptions.ProfileOutputPrefix"/>): the
    /// per-node side of <c>make op-profile</c>.
    /// </summary>
    public const string ProfileVariable = "EDGEGUARD_ONNX_PROFILE";

    /// <summary>
    /// Opens <paramref name="path"/>: a <c>.onnx</c> file, or a directory with <c>model.onnx</c>; beside it
    /// <c>config.json</c> (labels from <c>id2label</c>, <c>max_position_embeddings</c>, <c>vocab_size</c>) and the tokenizer
    /// (<c>spm.model</c>, or <c>vocab.txt</c> with an optional <c>tokenizer_config.json</c>).
    /// </summary>
    /// <param name="path">The model file or its directory.</param>
    /// <param name="options"><see cref="GuardOptions.Threads"/> sets ONNX Runtime's intra-op threads; <see cref="GuardOptions.VerifyWeights"/>
    /// does not apply (ONNX Runtime validates the whole file when it loads it).</param>
    /// <exception cref="ModelFileException">A file is missing, corrupt or of a kind the backend cannot run; the message names it and what was expected.</exception>
    public static Guard Open(string path, GuardOptions? options = null)
    {
        options ??= new GuardOptions();
        var backend = OpenBackend(path, options);
        try
        {
            return Guard.Create(backend, options);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <summary>As <see cref="Open"/>, without the guard around it.</summary>
    internal static GuardBackend OpenBackend(string path, GuardOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads);
        var (modelPath, directory, configPath) = OnnxModelFiles.LocateModel(path);
        var config = ClassifierConfig.Load(configPath);
        TokenizerFiles tokenizerFiles = OnnxModelFiles.LocateTokenizer(directory, config.ModelType);
        ITokenizer tokenizer = Tokenizers.Load(tokenizerFiles);
        if (tokenizer.VocabularySize > config.VocabSize)
        {
            throw new ModelFileException(
                $"{tokenizerFiles.Origin}: the tokenizer has {tokenizer.VocabularySize} tokens but {configPath} gives vocab_size {config.VocabSize}; they do not belong together.");
        }

        var classifier = OnnxSequenceClassifier.Open(modelPath, new OnnxClassifierOptions
        {
            Threads = options.Threads,
            MaxSequenceLength = config.MaxPositionEmbeddings,
            VocabularySize = config.VocabSize,
            ProfileOutputPrefix = Environment.GetEnvironmentVariable(ProfileVariable),
        });
        try
        {
            // Checked before any names are made: num_labels is free to inflate, the graph's logits are not.
            if (config.NumLabels is int declared && declared != classifier.NumLabels)
            {
                throw new ModelFileException($"{configPath}: num_labels={declared} does not match the model: its '{OnnxGraphSignature.Logits}' has {classifier.NumLabels} columns.");
            }

            IReadOnlyList<string> names = config.Labels
                ?? [.. Enumerable.Range(0, classifier.NumLabels).Select(i => "LABEL_" + i.ToString(CultureInfo.InvariantCulture))];
            if (names.Count != classifier.NumLabels)
            {
                throw new ModelFileException($"{configPath}: {names.Count} labels are named but the model's '{OnnxGraphSignature.Logits}' has {classifier.NumLabels} columns.");
            }

            var labels = ModelLabels.Resolve(names, options.UnsafeLabel, path);
            var info = new GuardModelInfo(
                path, "onnx", classifier.Precision, null, labels.Names, labels.UnsafeIndex, DefaultThreshold,
                config.Layers, config.HiddenSize, classifier.MaxSequenceLength, config.VocabSize);
            return new GuardBackend(classifier, tokenizer, labels, DefaultThreshold, info);
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }
}
