using EdgeGuard.Generation.Logits;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Generation;

/// <summary>
/// The models one generation decodes in lock-step and how their logits combine: one model alone, offset unlearning
/// (<c>ℓ_B + α·(ℓ_S′ − ℓ_S₀)</c>), contrastive decoding (expert against amateur, with the plausibility mask) or any
/// other <see cref="LogitsCombiner"/>. Member 0 is the primary model: its tokenizer reads the prompt and writes the text.
/// </summary>
/// <remarks>
/// A group is checked when it is made: every member's logits row must have the primary's length, and every member that
/// has a tokenizer must have the primary's, token for token (the same bytes for each id, the same special tokens, BOS and
/// EOS), since token v has to mean the same text in every row. A member without a tokenizer is checked by its
/// vocabulary size only. Immutable; any number of generators may use one group at once.
/// </remarks>
public sealed class ModelGroup
{
    private readonly GenerativeModel[] _members;

    /// <summary>A group of <paramref name="members"/> (the primary first) combined by <paramref name="combiner"/>.</summary>
    /// <exception cref="ArgumentException">The member count does not fit the combiner, or vocabularies or tokenizers differ.</exception>
    public ModelGroup(IReadOnlyList<GenerativeModel> members, LogitsCombiner? combiner)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count == 0)
        {
            throw new ArgumentException("A model group needs at least one model.", nameof(members));
        }

        int partners = combiner?.PartnerCount ?? 0;
        if (members.Count != partners + 1)
        {
            throw new ArgumentException(
                combiner is null
                    ? $"Without a combiner a group holds one model, not {members.Count}."
                    : $"{combiner.GetType().Name} combines {partners + 1} models (the primary and {partners} partners), not {members.Count}.",
                nameof(members));
        }

        _members = [.. members];
        foreach (var member in _members)
        {
            ArgumentNullException.ThrowIfNull(member, nameof(members));
        }

        Combiner = combiner;
        string[] names = [.. _members.Select(m => m.Name)];
        int[] sizes = [.. _members.Select(m => m.Model.VocabularySize)];
        ModelGroupVocabulary.RequireShared(names, sizes);
        for (int i = 1; i < _members.Length; i++)
        {
            if (_members[i].Tokenizer is { } tokenizer)
            {
                if (Tokenizer is null)
                {
                    throw new ArgumentException($"Model '{names[i]}' has a tokenizer but the primary model '{names[0]}' has none to compare it with.", nameof(members));
                }

                TokenizerAgreement.Require(Tokenizer, tokenizer, names[0], names[i]);
            }
        }

        ContextLength = _members.Min(m => m.Model.MaxContextLength);
    }

    /// <summary>The members, the primary first.</summary>
    public IReadOnlyList<GenerativeModel> Members => _members;

    /// <summary>The primary model.</summary>
    public GenerativeModel Primary => _members[0];

    /// <summary>How the rows combine, or null for one model.</summary>
    public LogitsCombiner? Combiner { get; }

    /// <summary>The primary model's tokenizer (the group's), or null.</summary>
    public IGenerativeTokenizer? Tokenizer => _members[0].Tokenizer;

    /// <summary>Logits per row, shared by every member.</summary>
    public int VocabularySize => _members[0].Model.VocabularySize;

    /// <summary>The longest context every member has positions for.</summary>
    public int ContextLength { get; }

    /// <summary>One model alone.</summary>
    public static ModelGroup Single(GenerativeModel model) => new([model], null);

    /// <summary>Offset unlearning: base <paramref name="b"/>, the unlearned small model <paramref name="sPrime"/> and its original <paramref name="s0"/>.</summary>
    public static ModelGroup Offset(GenerativeModel b, GenerativeModel sPrime, GenerativeModel s0, float alpha = 1f) =>
        new([b, sPrime, s0], new OffsetCombiner(alpha));

    /// <summary>Contrastive decoding: <paramref name="expert"/> (the base) against <paramref name="amateur"/> (e.g. its toxic fine-tune).</summary>
    public static ModelGroup Contrastive(
        GenerativeModel expert, GenerativeModel amateur, double plausibility = ContrastiveCombiner.DefaultPlausibility, float beta = float.PositiveInfinity) =>
        new([expert, amateur], new ContrastiveCombiner(plausibility, beta));
}
