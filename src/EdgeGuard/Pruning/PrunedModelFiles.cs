using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Models;

namespace EdgeGuard.Pruning;

/// <summary>
/// Writes a pruned model in the form its original came in, into a folder the runtime opens as a model: a Hugging Face
/// directory gives a Hugging Face directory (its <c>config.json</c> as it was, its tokenizer files, a float32
/// <c>model.safetensors</c>), which the training pipeline reads too; a float32 bundle gives the folder form of a bundle
/// (<c>model.gguf</c> with the original's config, tokenizer and name), so no tokenizer has to be re-exported.
/// </summary>
public static class PrunedModelFiles
{

    /// <summary>Writes <paramref name="weights"/> with <paramref name="original"/>'s config and tokenizer into <paramref name="directory"/>; returns the model file written.</summary>
    /// <exception cref="ModelFileException">A tensor cannot be read as float32, or the files cannot be written.</exception>
    public static string Write(ModelSource original, PrunedWeights weights, string directory)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        if (original.Bundle is { } bundle)
        {
            string path = Path.Combine(directory, ModelSource.FolderBundleFileName);
            BundleConversion.Write(original, path, classifier: null, int8: false, name: bundle.Name, source: bundle.Source ?? Path.GetFileName(bundle.Origin), weights: weights);
            return path;
        }

        HuggingFaceDirectory hf = original.Directory!;
        var tensors = weights.Tensors
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => new SafetensorsWriter.Entry(t.Name, [.. t.Shape], weights.ReadFloat32(t.Name)))
            .ToList();
        string model = Path.Combine(directory, HuggingFaceDirectory.WeightsFileName);
        SafetensorsWriter.Write(model, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        File.Copy(hf.ConfigPath, Path.Combine(directory, HuggingFaceDirectory.ConfigFileName), overwrite: true);
        foreach (KeyValuePair<string, ReadOnlyMemory<byte>> file in original.TokenizerFiles.Files)
        {
            File.WriteAllBytes(Path.Combine(directory, file.Key), file.Value.ToArray());
        }

        // Generation defaults travel with the weights.
        if (hf.FindFile(HuggingFaceDirectory.GenerationConfigFileName) is { } generationConfig)
        {
            File.Copy(generationConfig, Path.Combine(directory, HuggingFaceDirectory.GenerationConfigFileName), overwrite: true);
        }

        return model;
    }
}
