using EdgeGuard.ModelFiles;

namespace EdgeGuard;

/// <summary>Class names of a classifier and which of them means unsafe.</summary>
public sealed record ModelLabels(IReadOnlyList<string> Names, int UnsafeIndex)
{
    private static readonly string[] UnsafeWords = ["unsafe", "harmful", "toxic", "flagged", "jailbreak", "injection", "malicious"];

    /// <summary>The unsafe class's name.</summary>
    public string UnsafeName => Names[UnsafeIndex];

    /// <summary>
    /// Finds the unsafe class: the one label whose name says so (unsafe, harmful, toxic, …); failing that, class 1
    /// of a two-class model, the convention of HarmAug-Guard and of Hugging Face's LABEL_0/LABEL_1 defaults.
    /// </summary>
    /// <exception cref="ModelFileException">No class can be identified; the message says how to name one.</exception>
    public static ModelLabels Resolve(IReadOnlyList<string> names, int? overrideIndex, string origin)
    {
        if (names.Count < 2)
        {
            throw new ModelFileException($"{origin}: a classifier needs at least 2 labels, the model has {names.Count}.");
        }

        if (overrideIndex is { } chosen)
        {
            if (chosen < 0 || chosen >= names.Count)
            {
                throw new ModelFileException($"{origin}: unsafe label index {chosen} is outside the model's {names.Count} labels.");
            }

            return new ModelLabels(names, chosen);
        }

        int found = -1;
        for (int i = 0; i < names.Count; i++)
        {
            string name = names[i].ToLowerInvariant();
            if (Array.Exists(UnsafeWords, w => name.Contains(w, StringComparison.Ordinal)) && !name.StartsWith("not", StringComparison.Ordinal) && !name.StartsWith("non", StringComparison.Ordinal))
            {
                if (found >= 0)
                {
                    throw new ModelFileException($"{origin}: labels {ErrorText.Quote(names[found])} and {ErrorText.Quote(names[i])} both look unsafe; choose one with the unsafe label option.");
                }

                found = i;
            }
        }

        if (found >= 0)
        {
            return new ModelLabels(names, found);
        }

        if (names.Count == 2)
        {
            return new ModelLabels(names, 1);
        }

        throw new ModelFileException($"{origin}: none of the {names.Count} labels {ErrorText.QuoteList(names)} names the unsafe class; choose one with the unsafe label option.");
    }
}
