namespace EdgeGuard.Generation.Logits;

/// <summary>
/// Models whose logits are combined must share one vocabulary: token v has to mean the same string in every row.
/// This checks what the runtime can see, the number of logits per row; a generator that opens a group also compares
/// the models' tokenizers.
/// </summary>
public static class ModelGroupVocabulary
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the first model whose vocabulary size differs from model 0's.</summary>
    /// <param name="modelNames">How each model is known to the user (a path or a configured name).</param>
    /// <param name="vocabularySizes">Each model's number of logits per row.</param>
    public static void RequireShared(ReadOnlySpan<string> modelNames, ReadOnlySpan<int> vocabularySizes)
    {
        if (modelNames.Length != vocabularySizes.Length)
        {
            throw new ArgumentException($"{modelNames.Length} model names were given for {vocabularySizes.Length} vocabulary sizes.", nameof(vocabularySizes));
        }

        if (vocabularySizes.Length == 0)
        {
            throw new ArgumentException("A model group needs at least one model.", nameof(vocabularySizes));
        }

        for (int i = 0; i < vocabularySizes.Length; i++)
        {
            if (vocabularySizes[i] <= 0)
            {
                throw new ArgumentException($"Model '{modelNames[i]}' has an empty vocabulary ({vocabularySizes[i]} logits per row).", nameof(vocabularySizes));
            }

            if (vocabularySizes[i] != vocabularySizes[0])
            {
                throw new ArgumentException(
                    $"Model '{modelNames[i]}' has a vocabulary of {vocabularySizes[i]} tokens but '{modelNames[0]}' has {vocabularySizes[0]}: models whose logits are combined must share one vocabulary.",
                    nameof(vocabularySizes));
            }
        }
    }

    internal static void RequireRowLength(int primaryLength, int rowLength, int modelIndex, string role, string primaryRole)
    {
        if (rowLength != primaryLength)
        {
            ThrowRowLength(primaryLength, rowLength, modelIndex, role, primaryRole);
        }
    }

    private static void ThrowRowLength(int primaryLength, int rowLength, int modelIndex, string role, string primaryRole) =>
        throw new ArgumentException(
            $"Model {modelIndex} ({role}) gave {rowLength} logits but model 0 ({primaryRole}) gave {primaryLength}: models whose logits are combined must share one vocabulary.");
}
