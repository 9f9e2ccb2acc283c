using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Gguf;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Models.Llama;

/// <summary>
/// The Llama family's registry entries, decoder language models: <see cref="Llama"/> (<c>model_type</c> <c>llama</c>:
/// Llama 2/3, TinyLlama, SmolLM) and <see cref="Qwen2"/> (<c>qwen2</c>: Qwen2, Qwen2.5, the same graph with q/k/v
/// biases). One graph (<see cref="LlamaDecoder"/>); the config type carries what differs.
/// </summary>
public sealed class LlamaArchitecture : ModelArchitecture
{
    /// <summary>The <c>model_type</c> of Llama checkpoints.</summary>
    public const string LlamaModelType = "llama";

    /// <summary>The <c>model_type</c> of Qwen2 checkpoints.</summary>
    public const string Qwen2ModelType = "qwen2";

    private readonly Func<string, string, LlamaConfig> _parse;

    private LlamaArchitecture(string modelType, Func<string, string, LlamaConfig> parse)
    {
        ModelType = modelType;
        _parse = parse;
    }

    /// <summary>Llama-style decoders.</summary>
    public static LlamaArchitecture Llama { get; } = new(LlamaModelType, LlamaConfig.Parse);

    /// <summary>Qwen2-style decoders (Llama with q/k/v biases).</summary>
    public static LlamaArchitecture Qwen2 { get; } = new(Qwen2ModelType, Qwen2Config.Parse);

    /// <inheritdoc />
    public override string ModelType { get; }

    /// <inheritdoc />
    public override string TokenizerKind => TokenizerFiles.HuggingFaceTokenizerJson;

    /// <inheritdoc />
    public override string TokenizerKindIn(string directory) => TokenizerFiles.DecoderKindInDirectory(directory) ?? TokenizerKind;

    /// <inheritdoc />
    public override bool IsClassifier => false;

    /// <inheritdoc />
    public override bool IsDecoder => true;

    /// <inheritdoc />
    public override IModelConfig ParseConfig(string json, string origin)
    {
        LlamaConfig config = _parse(json, origin);
        config.Validate();
        return config;
    }

    /// <inheritdoc />
    public override void CheckWeights(IModelConfig config, ITensorSource weights) => Expect<LlamaConfig>(config).ValidateAgainst(weights);

    /// <inheritdoc />
    public override EncoderClassifier LoadClassifier(IModelConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, Int8Plan int8Plan) =>
        throw DecoderArchitectures.NotAClassifier(config, ModelType);

    /// <inheritdoc />
    public override DecoderGraph LoadDecoder(IModelConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, Int8Plan int8Plan) =>
        LlamaDecoder.Load(Expect<LlamaConfig>(config), weights, pool, precision, int8Plan);

    /// <inheritdoc />
    public override IReadOnlyList<KeyValuePair<string, GgufValue>> DescribeBundleMetadata(IModelConfig config)
    {
        LlamaConfig c = Expect<LlamaConfig>(config);
        return
        [
            .. DecoderArchitectures.ShapeKeys(ModelType, c.MaxPositionEmbeddings, c.HiddenSize, c.NumHiddenLayers, c.IntermediateSize, c.NumAttentionHeads),
            DecoderArchitectures.Key(ModelType, "attention.head_count_kv", GgufValue.FromUInt32((uint)c.KeyValueHeads)),
            DecoderArchitectures.Key(ModelType, "rope.freq_base", GgufValue.FromFloat32((float)c.RopeTheta)),
            DecoderArchitectures.Key(ModelType, "rope.dimension_count", GgufValue.FromUInt32((uint)c.HeadSize)),
            DecoderArchitectures.Key(ModelType, "attention.layer_norm_rms_epsilon", GgufValue.FromFloat32((float)c.RmsNormEps)),
            DecoderArchitectures.Key(ModelType, "vocab_size", GgufValue.FromUInt32((uint)c.VocabSize)),
        ];
    }
}
