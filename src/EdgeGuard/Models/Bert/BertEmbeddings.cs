using EdgeGuard.Kernels.Threading;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models.Bert;

/// <summary>
/// <c>BertEmbeddings</c> / <c>RobertaEmbeddings</c>: word + absolute position + token type embeddings, then LayerNorm.
/// BERT numbers positions from 0; RoBERTa from <c>pad_token_id + 1</c>, counting only tokens that are not the padding
/// id (Hugging Face's <c>create_position_ids_from_input_ids</c>: a padding id inside a row keeps position
/// <c>pad_token_id</c> and does not advance the count).
/// </summary>
/// <remarks>
/// Deviation: padding positions are never computed (rows are packed), which leaves valid positions identical.
/// </remarks>
internal sealed class BertEmbeddings(EmbeddingTable words, EmbeddingTable positions, EmbeddingTable? tokenTypes, LayerNormWeights layerNorm, int padTokenId, bool positionsSkipPadding)
{
    /// <summary>The word table.</summary>
    public EmbeddingTable Words => words;

    /// <param name="weights">Names under <c>bert.embeddings</c> or <c>roberta.embeddings</c>.</param>
    public static BertEmbeddings Load(WeightLoader weights, BertConfig config)
    {
        int hidden = config.HiddenSize;
        return new BertEmbeddings(
            EmbeddingTable.Load(weights.Child("word_embeddings"), config.VocabSize, hidden),
            EmbeddingTable.Load(weights.Child("position_embeddings"), config.MaxPositionEmbeddings, hidden),
            config.TypeVocabSize == 0 ? null : EmbeddingTable.Load(weights.Child("token_type_embeddings"), config.TypeVocabSize, hidden),
            LayerNormWeights.Load(weights.Child("LayerNorm"), hidden, (float)config.LayerNormEps),
            config.PadTokenId,
            positionsSkipPadding: config is RobertaConfig);
    }

    /// <summary>This module with its word table in float16.</summary>
    public BertEmbeddings WithHalfTable() => new(words.WithHalfPrecision(), positions, tokenTypes, layerNorm, padTokenId, positionsSkipPadding);

    /// <summary>Writes the embedded, normalised packed tokens to <see cref="EncoderWorkspace.Hidden"/>. Ids and types are checked by the caller.</summary>
    public void Forward(WorkerPool pool, EncoderWorkspace workspace)
    {
        Span<float> hidden = workspace.Hidden;
        int width = words.Width;
        for (int b = 0; b < workspace.Batch; b++)
        {
            int offset = workspace.Offsets[b];
            int position = positionsSkipPadding ? padTokenId : -1;
            for (int i = 0; i < workspace.Lengths[b]; i++)
            {
                int t = offset + i;
                int id = workspace.TokenIds[t];
                Span<float> row = hidden.Slice(t * width, width);
                words.CopyRow(id, row);
                int positionId = !positionsSkipPadding ? i : id == padTokenId ? padTokenId : ++position;
                positions.AddRow(positionId, row);
                tokenTypes?.AddRow(workspace.TokenTypeIds[t], row);
            }
        }

        layerNorm.Forward(pool, hidden, default, hidden, workspace.Tokens);
    }
}
