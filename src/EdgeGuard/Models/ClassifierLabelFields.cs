using System.Globalization;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Models;

/// <summary>
/// How every Hugging Face sequence-classifier config names its outputs (<c>num_labels</c>, <c>id2label</c>), read the way
/// <c>PretrainedConfig</c> reads them, for every architecture's config type.
/// </summary>
internal static class ClassifierLabelFields
{
    /// <summary><c>num_labels</c>, else the size of <c>id2label</c>, else 2 (the Hugging Face default).</summary>
    public static int Count(int? numLabels, IReadOnlyDictionary<string, string>? id2Label) => numLabels ?? id2Label?.Count ?? 2;

    /// <summary>Label names by index, <c>LABEL_i</c> where <c>id2label</c> names none. Bound the count against the weights first.</summary>
    public static IReadOnlyList<string> Names(int count, IReadOnlyDictionary<string, string>? id2Label) =>
        [.. Enumerable.Range(0, count).Select(i => id2Label?.GetValueOrDefault(i.ToString(CultureInfo.InvariantCulture)) ?? "LABEL_" + i)];

    /// <summary>Why the label fields are inconsistent, or null: a count below 1, a count that disagrees with <c>id2label</c>, keys that are not 0..n-1.</summary>
    /// <remarks><c>label2id</c> is not checked: fine-tunes often carry a stale one, and <c>id2label</c> is what Hugging Face uses to name outputs.</remarks>
    public static string? Problem(int? numLabels, IReadOnlyDictionary<string, string>? id2Label)
    {
        if (numLabels is int declared && declared < 1)
        {
            return $"num_labels={declared} must be at least 1";
        }

        if (id2Label is null)
        {
            return null;
        }

        if (numLabels is int count && count != id2Label.Count)
        {
            return $"num_labels={count} disagrees with id2label, which has {id2Label.Count} entries";
        }

        for (int i = 0; i < id2Label.Count; i++)
        {
            if (!id2Label.ContainsKey(i.ToString(CultureInfo.InvariantCulture)))
            {
                return $"id2label has the keys {ErrorText.QuoteList(id2Label.Keys)} but must have the keys 0..{id2Label.Count - 1} (no \"{i}\")";
            }
        }

        return null;
    }
}
