using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Gguf;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Models;

/// <summary>
/// One model family the runtime implements, keyed by <c>config.json</c>'s <c>model_type</c>: it parses and validates
/// its config, loads its graph and names its tokenizer. Model files, the guard, the CLI and the daemon reach a model
/// only through this; adding an architecture is a folder under <c>Models/</c> and a line in <see cref="ModelArchitectures"/>
/// (docs/architectures.md). An architecture is a sequence classifier (<see cref="LoadClassifier"/>), a decoder language
/// model (<see cref="LoadDecoder"/>) or both; each refuses what it is not with a message that says so.
/// </summary>
public abstract class ModelArchitecture
{
    /// <summary>The Hugging Face <c>model_type</c> this entry implements (also a bundle's <c>general.architecture</c>).</summary>
    public abstract string ModelType { get; }

    /// <summary>The kind of tokenizer (<see cref="TokenizerFiles"/>) a Hugging Face directory of this architecture carries.</summary>
    public abstract string TokenizerKind { get; }

    /// <summary>
    /// The kind of tokenizer a Hugging Face directory of this architecture holds: <see cref="TokenizerKind"/>, unless the
    /// family ships several (a Llama directory holds a SentencePiece <c>tokenizer.model</c> or a <c>tokenizer.json</c>).
    /// </summary>
    public virtual string TokenizerKindIn(string directory) => TokenizerKind;

    /// <summary>Parses <paramref name="json"/> and refuses, naming the field, any variant this engine does not implement.</summary>
    /// <exception cref="ModelFileException">Not a config of this architecture, or an unsupported or inconsistent field.</exception>
    public abstract IModelConfig ParseConfig(string json, string origin);

    /// <summary>
    /// Checks every size of <paramref name="config"/> that a tensor fixes (labels, vocabulary, widths, layers) against
    /// <paramref name="weights"/>, before anything is sized by the config: a config is text and costs nothing to inflate,
    /// a tensor is backed by the file's bytes.
    /// </summary>
    /// <exception cref="ModelFileException">A size disagrees with the weights; the message names the field and the tensor.</exception>
    public abstract void CheckWeights(IModelConfig config, ITensorSource weights);

    /// <summary>
    /// Loads the sequence classifier of <paramref name="config"/> from <paramref name="weights"/> (validating every
    /// tensor's name and shape), computing in <paramref name="precision"/>.
    /// </summary>
    /// <param name="int8Plan">How linear layers are quantised at load (weight limit, layers kept in float32); unused in float32.</param>
    /// <exception cref="ModelFileException">A missing, misshapen or unexpected tensor.</exception>
    public abstract EncoderClassifier LoadClassifier(IModelConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, Int8Plan int8Plan);

    /// <summary>Whether <see cref="LoadClassifier"/> loads a sequence classifier (a guard can run it).</summary>
    public virtual bool IsClassifier => true;

    /// <summary>Whether <see cref="LoadDecoder"/> loads a decoder language model.</summary>
    public virtual bool IsDecoder => false;

    /// <summary>
    /// Loads the decoder language model (the graph <c>Generation.Decoding.DecoderModel</c> runs) of <paramref name="config"/> from <paramref name="weights"/> (validating every
    /// tensor's name and shape), its linear layers computing in <paramref name="precision"/>.
    /// </summary>
    /// <param name="int8Plan">How linear layers are quantised at load (weight limit, layers kept in float32); unused in float32.</param>
    /// <exception cref="ModelFileException">Not a decoder architecture, or a missing, misshapen or unexpected tensor.</exception>
    public virtual DecoderGraph LoadDecoder(IModelConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, Int8Plan int8Plan) =>
        throw new ModelFileException($"{config.Origin}: model_type={ErrorText.Quote(ModelType)} is a sequence classifier, not a decoder language model; it cannot generate text.");

    /// <summary>
    /// Metadata a bundle of this architecture carries besides EdgeGuard's own keys, under <c>{model_type}.</c> (the
    /// llama.cpp GGUF keys, so other GGUF tools can read the model's shape); empty by default.
    /// </summary>
    public virtual IReadOnlyList<KeyValuePair<string, GgufValue>> DescribeBundleMetadata(IModelConfig config) => [];

    /// <summary>The model's tokenizer from its files; checks that it fits the config's vocabulary.</summary>
    /// <exception cref="ModelFileException">The files are not a valid tokenizer, or it produces ids the model has no embedding for.</exception>
    public virtual ITokenizer LoadTokenizer(TokenizerFiles files, IModelConfig config)
    {
        ITokenizer tokenizer = Tokenizers.Load(files);
        if (tokenizer.VocabularySize > config.VocabSize)
        {
            throw new ModelFileException(
                $"{files.Origin}: the tokenizer has {tokenizer.VocabularySize} tokens but the model's embedding table has only {config.VocabSize} rows (vocab_size); they do not belong together.");
        }

        return tokenizer;
    }

    /// <summary>A config of this architecture, checked to be one.</summary>
    private protected static T Expect<T>(IModelConfig config)
        where T : class, IModelConfig =>
        config as T ?? throw new ArgumentException($"A {config.ModelType} config was given to the {typeof(T).Name} architecture.", nameof(config));
}
