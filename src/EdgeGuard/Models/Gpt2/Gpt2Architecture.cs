using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Gguf;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Models.Gpt2;

/// <summary>The GPT-2 registry entry (<c>model_type</c> <c>gpt2</c>), a decoder language model: <see cref="Gpt2Decoder"/>.</summary>
public sealed class Gpt2Architecture : ModelArchitecture
{
    /// <summary>The <c>model_type</c> of GPT-2 checkpoints.</summary>
    public const string ModelTypeName = "gpt2";

    /// <inheritdoc />
    public override string ModelType => ModelTypeName;

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
        Gpt2Config config = Gpt2Config.Parse(json, origin);
        config.Validate();
        return config;
    }

    /// <inheritdoc />
    public override void CheckWeights(IModelConfig config, ITensorSource weights) => Expect<Gpt2Config>(config).ValidateAgainst(weights);

    /// <inheritdoc />
    public override EncoderClassifier LoadClassifier(IModelConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, Int8Plan int8Plan) =>
        throw DecoderArchitectures.NotAClassifier(config, ModelType);

    /// <inheritdoc />
    public override DecoderGraph LoadDecoder(IModelConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, Int8Plan int8Plan) =>
        Gpt2Decoder.Load(Expect<Gpt2Config>(config), weights, pool, precision, int8Plan);

    /// <inheritdoc />
    public override IReadOnlyList<KeyValuePair<string, GgufValue>> DescribeBundleMetadata(IModelConfig config)
    {
        Gpt2Config c = Expect<Gpt2Config>(config);
        return
        [
            .. DecoderArchitectures.ShapeKeys(ModelType, c.NPositions, c.NEmbd, c.NLayer, c.IntermediateSize, c.NHead),
            DecoderArchitectures.Key(ModelType, "attention.layer_norm_epsilon", GgufValue.FromFloat32((float)c.LayerNormEpsilon)),
            DecoderArchitectures.Key(ModelType, "vocab_size", GgufValue.FromUInt32((uint)c.VocabSize)),
        ];
    }
}
