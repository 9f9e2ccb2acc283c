using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Models.Bert;

/// <summary>
/// The BERT family's registry entries: <see cref="Bert"/> (<c>model_type</c> <c>bert</c>: BERT, MiniLM, e5/bge/arctic-embed
/// encoders, with WordPiece) and <see cref="Roberta"/> (<c>roberta</c>, with byte-level BPE). One graph
/// (<see cref="BertClassifier"/>); the config type carries what differs.
/// </summary>
public sealed class BertArchitecture : ModelArchitecture
{
    /// <summary>The <c>model_type</c> of BERT checkpoints.</summary>
    public const string ModelTypeName = "bert";

    private readonly Func<string, string, BertConfig> _parse;

    private BertArchitecture(string modelType, string tokenizerKind, Func<string, string, BertConfig> parse)
    {
        ModelType = modelType;
        TokenizerKind = tokenizerKind;
        _parse = parse;
    }

    /// <summary>BERT-style classifiers with a WordPiece tokenizer.</summary>
    public static BertArchitecture Bert { get; } = new(ModelTypeName, TokenizerFiles.WordPiece, BertConfig.Parse);

    /// <summary>RoBERTa-style classifiers with a byte-level BPE tokenizer.</summary>
    public static BertArchitecture Roberta { get; } = new(RobertaArchitecture.ModelTypeName, TokenizerFiles.ByteLevelBpe, RobertaConfig.Parse);

    /// <inheritdoc />
    public override string ModelType { get; }

    /// <inheritdoc />
    public override string TokenizerKind { get; }

    /// <inheritdoc />
    public override IModelConfig ParseConfig(string json, string origin)
    {
        BertConfig config = _parse(json, origin);
        config.Validate();
        return config;
    }

    /// <inheritdoc />
    public override void CheckWeights(IModelConfig config, ITensorSource weights) => Expect<BertConfig>(config).ValidateAgainst(weights);

    /// <inheritdoc />
    public override EncoderClassifier LoadClassifier(IModelConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, Int8Plan int8Plan) =>
        BertClassifier.Load(Expect<BertConfig>(config), weights, pool, precision, int8Plan);
}

/// <summary>The <c>model_type</c> of RoBERTa checkpoints; its registry entry is <see cref="BertArchitecture.Roberta"/>.</summary>
public static class RobertaArchitecture
{
    /// <summary>The <c>model_type</c> of RoBERTa checkpoints.</summary>
    public const string ModelTypeName = "roberta";
}
