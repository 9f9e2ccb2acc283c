namespace EdgeGuard.Models;

/// <summary>
/// What every architecture's parsed <c>config.json</c> tells the code around the model: its family, sizes, labels and
/// the longest row it accepts. Each architecture's config type reads its own fields as Hugging Face defines them.
/// </summary>
public interface IModelConfig
{
    /// <summary>The Hugging Face <c>model_type</c>: the key of the architecture registry and a bundle's <c>general.architecture</c>.</summary>
    string ModelType { get; }

    /// <summary>Where the config came from, for error messages.</summary>
    string Origin { get; }

    /// <summary>Rows of the word embedding table; every token id is below it.</summary>
    int VocabSize { get; }

    /// <summary>Width of the hidden states.</summary>
    int HiddenSize { get; }

    /// <summary>Width of the feed-forward layers.</summary>
    int IntermediateSize { get; }

    /// <summary>Encoder (or decoder) layers.</summary>
    int NumHiddenLayers { get; }

    /// <summary>Outputs of the classifier head.</summary>
    int NumLabels { get; }

    /// <summary>Class names, index = class id.</summary>
    IReadOnlyList<string> Labels { get; }

    /// <summary>The most tokens one row may hold, special tokens included.</summary>
    int MaxSequenceLength { get; }

    /// <summary>The config as Hugging Face <c>config.json</c> text.</summary>
    string ToJson();
}
