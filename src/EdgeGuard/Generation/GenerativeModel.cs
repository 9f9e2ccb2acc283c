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
    public GenerativeModel(string name, DecoderModel model, IGenerativeTokenizer? tokenizer)
        : this(name, model, tokenizer, null)
    {
    }

    private GenerativeModel(string name, DecoderModel model, IGenerativeTokenizer? tokenizer, IDisposable? owned)
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
        _owned = owned;
    }

    /// <summary>How the user knows the model.</summary>
    public string Name { get; }

    /// <summary>The loaded decoder.</summary>
    public DecoderModel Model { get; }

    /// <summary>Its tokenizer, or null.</summary>
    public IGenerativeTokenizer? Tokenizer { get; }

    /// <summary>
    /// Opens a decoder bundle or Hugging Face directory and loads it on <paramref name="pool"/> (which stays the caller's and
    /// may be shared by the members of a group: they run one after the other). The tokenizer is the one its files hold; a
    /// directory without tokenizer files gives a model without one unless <paramref name="requireTokenizer"/>.
    /// </summary>
    /// <exception cref="ModelFileException">The files are missing, invalid, not a decoder, or (when required) hold no tokenizer.</exception>
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

            var model = DecoderModel.Load(source, pool, precision);
            return new GenerativeModel(path, model, tokenizer, source);
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
