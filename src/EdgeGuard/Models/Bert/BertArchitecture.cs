using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Models.Bert;

/// <summary>BERT-style sequence classifiers (<c>model_type</c> <c>bert</c>: BERT, MiniLM, e5/bge/arctic-embed encoders) with a WordPiece tokenizer.</summary>
public sealed class BertArchitecture : ModelArchitecture
{
    /// <summary>The <c>model_type</c> of BERT checkpoints.</summary>
    public const string ModelTypeName = "bert";

    /// <inheritdoc />
    public override string ModelType => ModelTypeName;

    /// <inheritdoc />
    public override string TokenizerKind => TokenizerFiles.WordPiece;

    /// <inheritdoc />
    public override IModelConfig ParseConfig(string json, string origin)
    {
        BertConfig config = BertConfig.Parse(json, origin);
        config.Validate();
        return config;
    }

    /// <inheritdoc />
    public override void CheckWeights(IModelConfig config, ITensorSource weights) => Expect<BertConfig>(config).ValidateAgainst(weights);

    /// <inheritdoc />
    public override EncoderClassifier LoadClassifier(IModelConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, int int8WeightLimit) =>
        BertClassifier.Load(Expect<BertConfig>(config), weights, pool, precision, int8WeightLimit);
}

/// <summary>RoBERTa-style sequence classifiers (<c>model_type</c> <c>roberta</c>) with a byte-level BPE tokenizer.</summary>
public sealed class RobertaArchitecture : ModelArchitecture
{
    /// <summary>The <c>model_type</c> of RoBERTa checkpoints.</summary>
    public const string ModelTypeName = "roberta";

    /// <inheritdoc />
    public override string ModelType => ModelTypeName;

    /// <inheritdoc />
    public override string TokenizerKind => TokenizerFiles.ByteLevelBpe;

    /// <inheritdoc />
    public override IModelConfig ParseConfig(string json, string origin)
    {
        RobertaConfig config = RobertaConfig.Parse(json, origin);
        config.Validate();
        return config;
    }

    /// <inheritdoc />
    public override void CheckWeights(IModelConfig config, ITensorSource weights) => Expect<RobertaConfig>(config).ValidateAgainst(weights);

    /// <inheritdoc />
    public override EncoderClassifier LoadClassifier(IModelConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, int int8WeightLimit) =>
        BertClassifier.Load(Expect<RobertaConfig>(config), weights, pool, precision, int8WeightLimit);
}
