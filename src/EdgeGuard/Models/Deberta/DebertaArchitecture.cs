using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Models.Deberta;

/// <summary>DeBERTa-v3 sequence classifiers (<c>model_type</c> <c>deberta-v2</c>) with their SentencePiece tokenizer.</summary>
public sealed class DebertaArchitecture : ModelArchitecture
{
    /// <summary>The <c>model_type</c> of DeBERTa-v2 and -v3 checkpoints.</summary>
    public const string ModelTypeName = "deberta-v2";

    /// <inheritdoc />
    public override string ModelType => ModelTypeName;

    /// <inheritdoc />
    public override string TokenizerKind => TokenizerFiles.SentencePieceUnigram;

    /// <inheritdoc />
    public override IModelConfig ParseConfig(string json, string origin)
    {
        DebertaConfig config = DebertaConfig.Parse(json, origin);
        config.Validate();
        return config;
    }

    /// <inheritdoc />
    public override void CheckWeights(IModelConfig config, ITensorSource weights) => Expect<DebertaConfig>(config).ValidateAgainst(weights);

    /// <inheritdoc />
    public override EncoderClassifier LoadClassifier(IModelConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, Int8Plan int8Plan) =>
        DebertaClassifier.Load(Expect<DebertaConfig>(config), weights, pool, precision, int8Plan);
}
