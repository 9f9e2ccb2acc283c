using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;
using EdgeGuard.Testing;
using EdgeGuard.Tooling;

namespace EdgeGuard.Native.Tests;

/// <summary>A tiny synthesized guard (random weights, the 2k test tokenizer) as a bundle, made once per test class.</summary>
public sealed class TinyBundle : IDisposable
{
    public TinyBundle()
    {
        Root = Directory.CreateTempSubdirectory("edgeguard-native-tests-").FullName;
        string hfDir = Path.Combine(Root, "hf");
        SyntheticModel.Write(ModelShape.Get("tiny"), Path.Combine(RepoPaths.Tokenizer("spm-unigram-2k"), "spm.model"), hfDir, vocabSize: null, seed: 7);
        BundlePath = Path.Combine(Root, "tiny.gguf");
        using var hf = HuggingFaceDirectory.Open(hfDir);
        var contents = new BundleContents(
            "deberta-v2", hf.ConfigJson, new BundleTokenizer("spm-unigram", new Dictionary<string, byte[]> { ["spm.model"] = File.ReadAllBytes(hf.FindFile("spm.model")!) }),
            new BundleClassifier(SyntheticModel.Labels, 1, 0.5f), "f32", "tiny", "synthesized");
        BundleWriter.Write(BundlePath, contents, hf.Weights);
    }

    public string Root { get; }

    public string BundlePath { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
