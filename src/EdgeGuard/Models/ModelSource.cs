using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Models;

/// <summary>
/// A model's files opened and matched to their architecture: a bundle or a Hugging Face directory, its parsed and
/// validated config, its weights, its tokenizer's files and, for a classifier, its labels and threshold. The guard,
/// <c>convert</c>, <c>inspect</c> and <c>verify-fixture</c> open models through this one type.
/// </summary>
public sealed class ModelSource : IDisposable
{
    /// <summary>Values of <see cref="Format"/>.</summary>
    public const string BundleFormatName = "bundle", HuggingFaceFormatName = "huggingface";

    private readonly IDisposable _files;
    private readonly Lazy<TokenizerFiles> _tokenizerFiles;

    private ModelSource(
        string path, string format, ModelArchitecture architecture, IModelConfig config, ITensorSource weights, Func<TokenizerFiles> tokenizerFiles, IDisposable files)
    {
        Path = path;
        Format = format;
        Architecture = architecture;
        Config = config;
        Weights = weights;
        _tokenizerFiles = new Lazy<TokenizerFiles>(tokenizerFiles);
        _files = files;
    }

    /// <summary>What was opened, as given.</summary>
    public string Path { get; }

    /// <summary><see cref="BundleFormatName"/> or <see cref="HuggingFaceFormatName"/>.</summary>
    public string Format { get; }

    /// <summary>The architecture the config names.</summary>
    public ModelArchitecture Architecture { get; }

    /// <summary>The parsed, validated config.</summary>
    public IModelConfig Config { get; }

    /// <summary>The weights; valid until this object is disposed.</summary>
    public ITensorSource Weights { get; }

    /// <summary>The tokenizer's kind and files, read on first use (a golden fixture directory has none).</summary>
    /// <exception cref="ModelFileException">A directory holds no file of its architecture's tokenizer.</exception>
    public TokenizerFiles TokenizerFiles => _tokenizerFiles.Value;

    /// <summary>The bundle, when a bundle was opened.</summary>
    public ModelBundle? Bundle => _files as ModelBundle;

    /// <summary>The directory, when a Hugging Face directory was opened.</summary>
    public HuggingFaceDirectory? Directory => _files as HuggingFaceDirectory;

    /// <summary>Weight precision as stored: <c>f32</c> for a directory, the bundle's otherwise.</summary>
    public string Precision => Bundle?.Precision ?? BundleFormat.PrecisionF32;

    /// <summary>The model's <c>generation_config.json</c> (from the directory, or as the bundle stores it), or null when it has none.</summary>
    public string? GenerationConfigJson => Bundle?.GenerationConfigJson ?? Directory?.GenerationConfigJson;

    /// <summary>The model's name, if the file gives one.</summary>
    public string? Name => Bundle?.Name;

    /// <summary>Class names: the bundle's, or the config's (<c>id2label</c>) for a directory; null for a bundle of a model that is not a classifier.</summary>
    public IReadOnlyList<string>? Labels => Bundle is { } bundle ? bundle.Labels : Config.Labels;

    /// <summary>The class the file says means unsafe (a bundle records it), or null to decide from the label names.</summary>
    public int? UnsafeLabel => Bundle is { IsClassifier: true } bundle ? bundle.UnsafeLabel : null;

    /// <summary>The model's decision threshold: the bundle's, 0.5 for a directory.</summary>
    public float Threshold => Bundle is { IsClassifier: true } bundle ? bundle.Threshold : 0.5f;

    /// <summary>The bundle inside a model folder that stands for the folder when it holds no <c>config.json</c>.</summary>
    public const string FolderBundleFileName = "model.gguf";

    /// <summary>
    /// Opens a bundle file, a folder holding <see cref="FolderBundleFileName"/> (and no <c>config.json</c>) or a Hugging Face directory, finds its architecture and validates its config.
    /// </summary>
    /// <param name="verifyWeights">Hash a bundle's tensor data at open (see <see cref="ModelBundle.Open"/>).</param>
    /// <exception cref="ModelFileException">Missing, unreadable, corrupt, inconsistent or of an unsupported architecture.</exception>
    public static ModelSource Open(string path, bool verifyWeights = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (System.IO.Directory.Exists(path))
        {
            // A model folder as the project ships one: the bundle with its model card, no config.json.
            string bundle = System.IO.Path.Combine(path, FolderBundleFileName);
            return !File.Exists(System.IO.Path.Combine(path, HuggingFaceDirectory.ConfigFileName)) && File.Exists(bundle)
                ? OpenBundle(bundle, verifyWeights)
                : OpenDirectory(path);
        }

        if (!File.Exists(path))
        {
            throw new ModelFileException($"{path}: no such model file or directory.");
        }

        return OpenBundle(path, verifyWeights);
    }

    /// <summary>Loads the classifier on <paramref name="pool"/>: an int8 bundle in int8, anything else in <paramref name="precision"/>.</summary>
    /// <param name="int8WeightLimit">For int8 quantised at load: the largest |w|; null for what this CPU's kernel multiplies fastest.</param>
    /// <param name="keepFloat">For int8 quantised at load: patterns of the linear layers to keep in float32 (<see cref="Int8Plan"/>); an int8 bundle keeps the ones it stores in float32.</param>
    public EncoderClassifier LoadClassifier(WorkerPool pool, ModelPrecision precision = ModelPrecision.Float32, int? int8WeightLimit = null, IReadOnlyList<string>? keepFloat = null)
    {
        if (Precision == BundleFormat.PrecisionInt8)
        {
            precision = ModelPrecision.Int8;
        }

        Int8Plan plan = Int8PlanFor(precision, int8WeightLimit, keepFloat);
        EncoderClassifier classifier = Architecture.LoadClassifier(Config, Weights, pool, precision, plan);
        ThrowIfUnmatched(plan, classifier.LinearLayerNames);
        return classifier;
    }

    /// <summary>Loads the decoder language model on <paramref name="pool"/>: an int8 bundle in int8, anything else in <paramref name="precision"/>.</summary>
    /// <param name="int8WeightLimit">For int8 quantised at load: the largest |w|; null for what this CPU's kernel multiplies fastest.</param>
    /// <param name="keepFloat">For int8 quantised at load: patterns of the linear layers to keep in float32 (<see cref="Int8Plan"/>); an int8 bundle keeps the ones it stores in float32.</param>
    /// <exception cref="ModelFileException">The architecture is not a decoder, or a tensor is missing or misshapen.</exception>
    public DecoderGraph LoadDecoder(WorkerPool pool, ModelPrecision precision = ModelPrecision.Float32, int? int8WeightLimit = null, IReadOnlyList<string>? keepFloat = null)
    {
        if (Precision == BundleFormat.PrecisionInt8)
        {
            precision = ModelPrecision.Int8;
        }

        Int8Plan plan = Int8PlanFor(precision, int8WeightLimit, keepFloat);
        DecoderGraph decoder = Architecture.LoadDecoder(Config, Weights, pool, precision, plan);
        ThrowIfUnmatched(plan, decoder.LinearLayerNames);
        return decoder;
    }

    /// <summary>How this source's linear layers are quantised when loaded in int8.</summary>
    /// <exception cref="ModelFileException">Patterns of layers to keep in float32 for an int8 bundle (its layers are quantised already).</exception>
    private Int8Plan Int8PlanFor(ModelPrecision precision, int? int8WeightLimit, IReadOnlyList<string>? keepFloat)
    {
        if (keepFloat is { Count: > 0 } && precision != ModelPrecision.Int8)
        {
            throw new ArgumentException("Layers are kept in float32 only in a model loaded in int8 (the others are float32 already).", nameof(keepFloat));
        }

        int limit = int8WeightLimit ?? Bundle?.Int8WeightLimit ?? Int8Gemm.PreferredWeightLimit(Int8Gemm.Selected);
        if (Precision != BundleFormat.PrecisionInt8)
        {
            return new Int8Plan(limit, keepFloat);
        }

        if (keepFloat is { Count: > 0 })
        {
            throw new ModelFileException($"{Path}: an int8 bundle's layers are quantised already; keep layers in float32 when converting from a float model.");
        }

        return Int8Plan.AsStored(limit);
    }

    /// <exception cref="ModelFileException">A pattern of layers to keep in float32 that named none of the model's linear layers.</exception>
    private void ThrowIfUnmatched(Int8Plan plan, IReadOnlyList<string> layerNames)
    {
        string[] unmatched = [.. plan.UnmatchedPatterns];
        if (unmatched.Length > 0)
        {
            throw new ModelFileException(
                $"{Path}: no linear layer of this {Config.ModelType} model is named like {string.Join(", ", unmatched.Select(ErrorText.Quote))} " +
                $"(its {layerNames.Count} linear layers are named as their weights are, without '.weight', from {ErrorText.Quote(layerNames[0])} to {ErrorText.Quote(layerNames[^1])}; '*' matches any run of characters within a dot-separated part, '**' across parts).");
        }
    }

    /// <summary>The model's tokenizer, checked against the config's vocabulary.</summary>
    public ITokenizer LoadTokenizer() => Architecture.LoadTokenizer(TokenizerFiles, Config);

    /// <summary>The tokenizer's files as a bundle stores them.</summary>
    public BundleTokenizer ToBundleTokenizer() =>
        new(TokenizerFiles.Kind, TokenizerFiles.Files.ToDictionary(f => f.Key, f => f.Value.ToArray(), StringComparer.Ordinal));

    /// <inheritdoc />
    public void Dispose() => _files.Dispose();

    private static ModelSource OpenDirectory(string path)
    {
        var hf = HuggingFaceDirectory.Open(path);
        try
        {
            (ModelArchitecture architecture, IModelConfig config) = ModelArchitectures.ParseConfig(hf.ConfigJson, hf.ConfigPath);

            // Before anyone sizes anything (labels, layers, tables) by the config.
            architecture.CheckWeights(config, hf.Weights);
            return new ModelSource(
                path, HuggingFaceFormatName, architecture, config, hf.Weights, () => TokenizerFiles.FromDirectory(hf.DirectoryPath, architecture.TokenizerKindIn(hf.DirectoryPath)), hf);
        }
        catch
        {
            hf.Dispose();
            throw;
        }
    }

    private static ModelSource OpenBundle(string path, bool verifyWeights)
    {
        var bundle = ModelBundle.Open(path, verifyWeights);
        try
        {
            ModelArchitecture architecture = ModelArchitectures.Get(bundle.Architecture, path);
            IModelConfig config = architecture.ParseConfig(bundle.ConfigJson, $"{path} ({BundleKeys.ConfigJson})");
            if (config.ModelType != bundle.Architecture)
            {
                throw new ModelFileException($"{path}: general.architecture is '{bundle.Architecture}' but the config's model_type is {ErrorText.Quote(config.ModelType)}.");
            }

            architecture.CheckWeights(config, bundle);
            if (bundle.Labels is { } labels && labels.Count != config.NumLabels)
            {
                throw new ModelFileException($"{path}: {labels.Count} labels are named but the classifier has {config.NumLabels} outputs.");
            }

            var tokenizerFiles = new TokenizerFiles(bundle.TokenizerKind, bundle.TokenizerFiles, path);
            return new ModelSource(path, BundleFormatName, architecture, config, bundle, () => tokenizerFiles, bundle);
        }
        catch
        {
            bundle.Dispose();
            throw;
        }
    }
}
