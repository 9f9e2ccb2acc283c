using EdgeGuard.Generation.Decoding;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Generation;

/// <summary>
/// A decoder language model with the tokenizer its files hold: a member of a <see cref="ModelGroup"/>. Read-only once
/// loaded, so one instance serves any number of <see cref="Generator"/>s at once.
/// </summary>
public sealed class GenerativeModel : IDisposable
{
    private readonly IDisposable? _owned;

    /// <summary>Wraps a loaded model and its tokenizer; both stay the caller's.</summary>
    /// <param name="name">How the user knows the model (a path or a configured name), for messages.</param>
    /// <param name="tokenizer">The model's tokenizer, or null for a model driven by token ids alone.</param>
    /// <exception cref="ArgumentException">The tokenizer produces ids the model has no embedding for.</exception>
    /// <param name="defaults">The model's own generation settings (its <c>generation_config.json</c>), or null.</param>
    public GenerativeModel(string name, DecoderModel model, IGenerativeTokenizer? tokenizer, GenerationDefaults? defaults = null)
        : this(name, model, tokenizer, defaults, null)
    {
    }

    private GenerativeModel(string name, DecoderModel model, IGenerativeTokenizer? tokenizer, GenerationDefaults? defaults, IDisposable? owned)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(model);
        if (tokenizer is not null && tokenizer.VocabularySize > model.VocabularySize)
        {
            throw new ArgumentException(
                $"Model '{name}': its tokenizer has {tokenizer.VocabularySize} tokens but the model only {model.VocabularySize}; they do not belong together.", nameof(tokenizer));
        }

        Name = name;
        Model = model;
        Tokenizer = tokenizer;
        Defaults = defaults;
        _owned = owned;
    }

    /// <summary>How the user knows the model.</summary>
    public string Name { get; }

    /// <summary>The loaded decoder.</summary>
    public DecoderModel Model { get; }

    /// <summary>Its tokenizer, or null.</summary>
    public IGenerativeTokenizer? Tokenizer { get; }

    /// <summary>
    /// The model's own generation settings (its <c>generation_config.json</c>, from the directory or the bundle), or null
    /// when its files have none. <see cref="GenerationDefaults.ToOptions"/> makes options of them.
    /// </summary>
    public GenerationDefaults? Defaults { get; }

    /// <summary>
    /// Opens a decoder bundle or Hugging Face directory and loads it on <paramref name="pool"/> (which stays the caller's and
    /// may be shared by the members of a group: they run one after the other). The tokenizer is the one its files hold; a
    /// directory without tokenizer files gives a model without one unless <paramref name="requireTokenizer"/>.
    /// </summary>
    /// <exception cref="ModelFileException">The files are missing, invalid, not a decoder, (when required) hold no tokenizer, or hold a generation_config.json whose settings are invalid.</exception>
    public static GenerativeModel Open(string path, WorkerPool pool, ModelPrecision precision = ModelPrecision.Float32, bool requireTokenizer = true)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var source = ModelSource.Open(path);
        try
        {
            if (!source.Architecture.IsDecoder)
            {
                throw new ModelFileException($"{path}: model_type={ErrorText.Quote(source.Config.ModelType)} is a sequence classifier, not a decoder language model; it cannot generate text.");
            }

            IGenerativeTokenizer? tokenizer = null;
            bool hasTokenizer = source.Directory is not { } directory || TokenizerFiles.DecoderKindInDirectory(directory.DirectoryPath) is not null;
            if (hasTokenizer || requireTokenizer)
            {
                tokenizer = source.LoadTokenizer() as IGenerativeTokenizer
                    ?? throw new ModelFileException($"{path}: its {source.TokenizerFiles.Kind} tokenizer cannot drive a decoder language model.");
            }

            GenerationDefaults? defaults = source.GenerationConfigJson is { } json ? GenerationDefaults.Parse(json, path) : null;
            var model = DecoderModel.Load(source, pool, precision);
            return new GenerativeModel(path, model, tokenizer, defaults, source);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    /// <remarks>Disposes what <see cref="Open"/> opened; a model wrapped by the constructor stays the caller's.</remarks>
    public void Dispose()
    {
        if (_owned is not null)
        {
            Model.Dispose();
            _owned.Dispose();
        }
    }
}
