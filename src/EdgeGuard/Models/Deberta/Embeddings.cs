using System.Numerics.Tensors;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles.Bundle;

namespace EdgeGuard.Models.Deberta;

/// <summary>
/// <c>DebertaV2Embeddings</c> for DeBERTa-v3: word embedding, then LayerNorm. There are no absolute position
/// embeddings (position_biased_input false) and no token-type embeddings (type_vocab_size 0); the config check refuses both.
/// </summary>
/// <remarks>
/// Deviation: Hugging Face multiplies the result by the attention mask so padding rows are zero; padding is never
/// computed here (rows are packed), which leaves valid positions identical.
/// The int8 engine keeps the word table in float16: it is the largest tensor of every DeBERTa-v3 model (128,100 rows)
/// and is only looked up, so halving it halves most of the file at the cost of rounding each value to 11 bits.
/// </remarks>
internal sealed class Embeddings
{
    private const string TableName = "word_embeddings";

    private readonly ReadOnlyMemory<float> _wordEmbeddings;
    private readonly ReadOnlyMemory<Half> _halfWordEmbeddings;
    private readonly LayerNormWeights _layerNorm;
    private readonly int _hidden;

    private Embeddings(string tableTensor, ReadOnlyMemory<float> wordEmbeddings, ReadOnlyMemory<Half> halfWordEmbeddings, LayerNormWeights layerNorm, int hidden)
    {
        TableTensor = tableTensor;
        _wordEmbeddings = wordEmbeddings;
        _halfWordEmbeddings = halfWordEmbeddings;
        _layerNorm = layerNorm;
        _hidden = hidden;
    }

    /// <summary>The word table in float16, when this module holds it so (else empty).</summary>
    public ReadOnlyMemory<Half> HalfTable => _halfWordEmbeddings;

    /// <summary>Hugging Face name of the word table.</summary>
    public string TableTensor { get; }

    public static Embeddings Load(WeightLoader weights, DebertaConfig config)
    {
        var layerNorm = LayerNormWeights.Load(weights.Child("LayerNorm"), config.HiddenSize, (float)config.LayerNormEps);
        string name = weights.Child(TableName).Prefix + ".weight";
        if (weights.Source is IInt8WeightSource stored && stored.FindHalfTable(name, config.VocabSize, config.HiddenSize) is { } half)
        {
            return new Embeddings(name, default, half, layerNorm, config.HiddenSize);
        }

        return new Embeddings(name, weights.Child(TableName).Matrix("weight", config.VocabSize, config.HiddenSize), default, layerNorm, config.HiddenSize);
    }

    /// <summary>This module with its word table in float16, unless a value is beyond float16's range (then unchanged).</summary>
    public Embeddings WithHalfTable()
    {
        if (!_halfWordEmbeddings.IsEmpty)
        {
            return this;
        }

        ReadOnlySpan<float> table = _wordEmbeddings.Span;
        var half = new Half[table.Length];
        TensorPrimitives.ConvertToHalf(table, half);
        foreach (Half value in half)
        {
            if (Half.IsInfinity(value))
            {
                return this;
            }
        }

        return new Embeddings(TableTensor, default, half, _layerNorm, _hidden);
    }

    /// <summary>Writes the embedded, normalised packed tokens to <see cref="DebertaWorkspace.Hidden"/>. Ids are checked by the caller.</summary>
    public void Forward(WorkerPool pool, DebertaWorkspace workspace)
    {
        Span<float> hidden = workspace.Hidden;
        if (_halfWordEmbeddings.IsEmpty)
        {
            ReadOnlySpan<float> table = _wordEmbeddings.Span;
            for (int t = 0; t < workspace.Tokens; t++)
            {
                table.Slice(workspace.TokenIds[t] * _hidden, _hidden).CopyTo(hidden.Slice(t * _hidden, _hidden));
            }
        }
        else
        {
            ReadOnlySpan<Half> table = _halfWordEmbeddings.Span;
            for (int t = 0; t < workspace.Tokens; t++)
            {
                TensorPrimitives.ConvertToSingle(table.Slice(workspace.TokenIds[t] * _hidden, _hidden), hidden.Slice(t * _hidden, _hidden));
            }
        }

        _layerNorm.Forward(pool, hidden, default, hidden, workspace.Tokens);
    }
}
