using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Deberta;

/// <summary>
/// <c>DebertaV2Embeddings</c> for DeBERTa-v3: word embedding, then LayerNorm. There are no absolute position
/// embeddings (position_biased_input false) and no token-type embeddings (type_vocab_size 0); the config check refuses both.
/// </summary>
/// <remarks>
/// Deviation: Hugging Face multiplies the result by the attention mask so padding rows are zero; padding is never
/// computed here (rows are packed), which leaves valid positions identical.
/// </remarks>
internal sealed class Embeddings
{
    private readonly ReadOnlyMemory<float> _wordEmbeddings;
    private readonly LayerNormWeights _layerNorm;
    private readonly int _hidden;

    private Embeddings(ReadOnlyMemory<float> wordEmbeddings, LayerNormWeights layerNorm, int hidden)
    {
        _wordEmbeddings = wordEmbeddings;
        _layerNorm = layerNorm;
        _hidden = hidden;
    }

    public static Embeddings Load(WeightLoader weights, DebertaConfig config) => new(
        weights.Child("word_embeddings").Matrix("weight", config.VocabSize, config.HiddenSize),
        LayerNormWeights.Load(weights.Child("LayerNorm"), config.HiddenSize, (float)config.LayerNormEps),
        config.HiddenSize);

    /// <summary>Writes the embedded, normalised packed tokens to <see cref="DebertaWorkspace.Hidden"/>. Ids are checked by the caller.</summary>
    public void Forward(WorkerPool pool, DebertaWorkspace workspace)
    {
        ReadOnlySpan<float> table = _wordEmbeddings.Span;
        Span<float> hidden = workspace.Hidden;
        for (int t = 0; t < workspace.Tokens; t++)
        {
            table.Slice(workspace.TokenIds[t] * _hidden, _hidden).CopyTo(hidden.Slice(t * _hidden, _hidden));
        }

        _layerNorm.Forward(pool, hidden, default, hidden, workspace.Tokens);
    }
}
