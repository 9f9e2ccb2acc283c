using EdgeGuard.ModelFiles;

namespace EdgeGuard.Models.Layers;

/// <summary>
/// A decoder's LM head (<c>lm_head</c>, <c>[vocab, hidden]</c>, no bias): its own tensor, or with
/// <c>tie_word_embeddings</c> the embedding table itself, which <c>save_pretrained</c> then leaves out of the file.
/// An int8 bundle stores either as the packed <c>lm_head.qweight</c>.
/// </summary>
internal static class LmHead
{
    /// <summary>The Hugging Face prefix of the head.</summary>
    public const string Prefix = "lm_head";

    /// <summary>Checks the head the weights hold against <c>tie_word_embeddings</c> and the vocabulary, before anything is sized.</summary>
    /// <exception cref="ModelFileException">An untied model without a head, a tied one whose stored head has another shape, or a head of another vocabulary.</exception>
    public static void Check(ITensorSource weights, TensorBounds bounds, string origin, bool tied, int vocabulary, int hidden)
    {
        TensorInfo? head = weights.Find(Prefix + ".weight");
        if (tied)
        {
            if (head is not null && !head.Shape.SequenceEqual([vocabulary, hidden]))
            {
                throw new ModelFileException(
                    $"{origin}: tie_word_embeddings=true but tensor '{Prefix}.weight' of {weights.Origin} has shape {head.ShapeText}, not the embedding table's [{vocabulary}, {hidden}]; a tied head is the table.");
            }

            return;
        }

        if (head is null && weights.Find(Prefix + ".qscale") is null)
        {
            throw new ModelFileException(
                $"{origin}: tie_word_embeddings=false but {weights.Origin} has no tensor '{Prefix}.weight'; an untied model needs its own head (a head that is the embedding table needs tie_word_embeddings=true).");
        }

        bounds.RequireDimension("vocab_size", vocabulary, DecoderLinears.OutputTensor(weights, Prefix), 0);
    }

    /// <summary>The head: the packed one of an int8 bundle, the embedding table under <paramref name="embeddings"/> when tied, else <c>lm_head.weight</c>.</summary>
    public static DecoderLinears.Named Load(WeightLoader root, bool tied, int vocabulary, int hidden, WeightLoader embeddings)
    {
        if (!tied)
        {
            return DecoderLinears.Load(root.Child(Prefix), hidden, vocabulary, bias: false);
        }

        if (root.Source is IInt8WeightSource int8 && int8.FindInt8Linear(Prefix, vocabulary, hidden) is { } packed)
        {
            return new(Prefix, new Linear(ReadOnlyMemory<float>.Empty, new float[vocabulary], hidden, vocabulary, packed));
        }

        return new(Prefix, new Linear(embeddings.Matrix("weight", vocabulary, hidden), default, hidden, vocabulary));
    }
}
