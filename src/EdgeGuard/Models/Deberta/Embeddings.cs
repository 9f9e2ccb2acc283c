using EdgeGuard.Kernels.Threading;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models.Deberta;

/// <summary>
/// <c>DebertaV2Embeddings</c> for DeBERTa-v3: word embedding, then LayerNorm. There are no absolute position
/// embeddings (position_biased_input false) and no token-type embeddings (type_vocab_size 0); the config check refuses both.
/// </summary>
/// <remarks>
/// Deviation: Hugging Face multiplies the result by the attention mask so padding rows are zero; padding is never
/// computed here (rows are packed), which leaves valid positions identical.
/// </remarks>
internal sealed class Embeddings(EmbeddingTable words, LayerNormWeights layerNorm)
{
    /// <summary>The word table.</summary>
    public EmbeddingTable Words => words;

    public static Embeddings Load(WeightLoader weights, DebertaConfig config) =>
        new(EmbeddingTable.Load(weights.Child("word_embeddings"), config.VocabSize, config.HiddenSize),
            LayerNormWeights.Load(weights.Child("LayerNorm"), config.HiddenSize, (float)config.LayerNormEps));

    /// <summary>This module with its word table in float16 (see <see cref="EmbeddingTable.WithHalfPrecision"/>).</summary>
    public Embeddings WithHalfTable() => new(words.WithHalfPrecision(), layerNorm);

    /// <summary>Writes the embedded, normalised packed tokens to <see cref="EncoderWorkspace.Hidden"/>. Ids are checked by the caller.</summary>
    public void Forward(WorkerPool pool, EncoderWorkspace workspace)
    {
        Span<float> hidden = workspace.Hidden;
        int width = words.Width;
        for (int t = 0; t < workspace.Tokens; t++)
        {
            words.CopyRow(workspace.TokenIds[t], hidden.Slice(t * width, width));
        }

        layerNorm.Forward(pool, hidden, default, hidden, workspace.Tokens);
    }
}
